;; For pool_test.cc: a memory with a little data, and a recursion deep enough to use more than the
;; 64 KiB of value stack a cached stack keeps.
(module
  (memory (export "memory") 1 4)
  (data (i32.const 0) "abc")
  (func $depth (export "depth") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $depth (i32.sub (local.get $n) (i32.const 1))))))))
