;; Imports its memory and a table with declared limits, as OPA's policies import env.memory: the host
;; reads the limits from Module::imports() to create a memory the module accepts.
(module
  (import "env" "memory" (memory 2 40))
  (import "env" "table" (table 3 funcref))
  (func (export "size") (result i32) (memory.size)))
