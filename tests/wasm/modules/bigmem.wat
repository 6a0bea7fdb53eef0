;; Declares 64 MiB of initial memory: refused by an engine capped below that.
(module (memory 1024))
