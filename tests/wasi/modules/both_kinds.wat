;; both_kinds: exports both _start (a command) and _initialize (a reactor); the WASI application ABI makes
;; the kinds exclusive. The `wasm` engine used to accept it (it looked for _start only), as did the worker.
(module
  (memory (export "memory") 1)
  (func (export "_start"))
  (func (export "_initialize")))
