// args_env: prints argv and the whole environment; `exit N` exits with status N through exit(),
// `proc_exit N` through the raw import.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "exit") == 0) exit(atoi(argv[2]));
  if (argc == 3 && strcmp(argv[1], "proc_exit") == 0) __wasi_proc_exit((__wasi_exitcode_t)atoi(argv[2]));
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; ++i) printf("argv[%d]=%s\n", i, argv[i]);
  int n = 0;
  for (char** e = environ; *e; ++e, ++n) printf("env:%s\n", *e);
  printf("envc=%d\n", n);
  return 0;
}
