// import_missing: imports a function no host provides.
__attribute__((import_module("env"), import_name("missing_fn"))) int missing_fn(int);
int main(void) { return missing_fn(1); }
