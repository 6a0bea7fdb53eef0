;; host_answer: exits with what the embedder's own import host.answer returns (WASI and a host import side
;; by side).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "host" "answer" (func $answer (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit (call $answer))))
