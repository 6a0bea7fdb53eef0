;; start_global: exports a global, not a function, named _start. The `wasm` engine used to accept it (any
;; export named _start); the worker did not.
(module
  (memory (export "memory") 1)
  (global (export "_start") i32 (i32.const 0)))
