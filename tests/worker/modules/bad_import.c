// Imports a wasmq function that does not exist: the module cannot be instantiated.
__attribute__((import_module("wasmq"), import_name("no_such_function"))) void missing(void);

int main(void) {
  missing();
  return 0;
}
