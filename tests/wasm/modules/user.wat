;; Imports the limits module's exports: linking between instances.
(module
  (import "limits" "call_host" (func $add (param i32 i32) (result i32)))
  (import "limits" "mem" (memory 1))
  (func (export "add_and_store") (param i32 i32) (result i32)
    (i32.store (i32.const 0) (call $add (local.get 0) (local.get 1)))
    (i32.load (i32.const 0))))
