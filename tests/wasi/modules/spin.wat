;; spin: a command whose _start loops for ever, importing nothing.
(module
  (memory (export "memory") 1)
  (func $spin (export "_start")
    (loop $again (br $again))))
