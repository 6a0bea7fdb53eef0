;; start_typed: a _start that takes a parameter, which no WASI host can call.
(module
  (memory (export "memory") 1)
  (func (export "_start") (param i32)))
