;; The same modules with true assertions: a strict `wasmq spectest` passes all 9.

(assert_trap
  (module (func $start unreachable) (start $start))
  "unreachable")
(assert_trap
  (module (memory 1) (data (i32.const 65536) "x"))
  "out of bounds memory access")
(assert_unlinkable
  (module (import "spectest" "no_such_function" (func)))
  "unknown import")
(assert_unlinkable
  (module (import "spectest" "print_i32" (func (result i32))))
  "incompatible import type")

(module
  (memory 1)
  (func (export "unreachable") unreachable)
  (func (export "div") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "load") (result i32) (i32.load (i32.const 70000)))
  (func $r (export "recurse") (call $r)))

(assert_trap (invoke "unreachable") "unreachable")
(assert_trap (invoke "div") "integer divide by zero")
(assert_trap (invoke "overflow") "integer overflow")
(assert_trap (invoke "load") "out of bounds memory access")
(assert_exhaustion (invoke "recurse") "call stack exhausted")
