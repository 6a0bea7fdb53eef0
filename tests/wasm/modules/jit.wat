;; Module for tests/wasm/jit_test.cc: the compiling tier's traps, limits, memory growth and host calls.
(module $jit
  (import "host" "add" (func $host_add (param i32 i32) (result i32)))
  (import "host" "reenter" (func $host_reenter (param i32) (result i32)))
  (memory (export "mem") 1)
  (func (export "spin") (loop $l (br $l)))
  (func $nop)
  (func (export "spin_calls") (loop $l (call $nop) (br $l)))
  (func $recurse (export "recurse") (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func $load (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func $peek (export "peek") (param i32) (result i32) (call $load (local.get 0)))
  ;; Grows by $pages, then stores $v at the first byte of the new pages and reads it back.
  (func (export "grow_and_store") (param $pages i32) (param $v i32) (result i32) (local $addr i32)
    (local.set $addr (i32.mul (memory.grow (local.get $pages)) (i32.const 65536)))
    (i32.store (local.get $addr) (local.get $v))
    (i32.load (local.get $addr)))
  (func (export "call_host") (param i32 i32) (result i32) (call $host_add (local.get 0) (local.get 1)))
  (func $via_host (export "via_host") (param i32) (result i32) (call $host_reenter (local.get 0)))
  (func (export "sum") (param $n i32) (result i64) (local $i i32) (local $s i64)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s)))
