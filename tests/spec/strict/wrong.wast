;; Assertions that are false: a strict `wasmq spectest` must fail every one of the 7 below.

;; Instantiation traps (in the start function): that is no link error.
(assert_unlinkable
  (module (func $start unreachable) (start $start))
  "unknown import")

;; A data segment out of bounds traps at instantiation: no link error either.
(assert_unlinkable
  (module (memory 1) (data (i32.const 65536) "x"))
  "incompatible import type")

;; Uninstantiable (wast2json: assert_uninstantiable), but with another trap than the one named.
(assert_trap
  (module (func $start unreachable) (start $start))
  "out of bounds memory access")

(module
  (memory 1)
  (func (export "unreachable") unreachable)
  (func (export "div") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "load") (result i32) (i32.load (i32.const 70000))))

;; Traps, but of another kind than the text says.
(assert_trap (invoke "unreachable") "integer divide by zero")
(assert_trap (invoke "div") "unreachable")
(assert_trap (invoke "load") "out of bounds table access")
(assert_trap (invoke "div") "integer overflow")
