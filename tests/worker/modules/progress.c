// Reports progress, copies /in to /out, writes /out/result.txt with its task id, prints a JSON result.
#include <dirent.h>

#include "wasmq.h"

static void copy_inputs(void) {
  DIR* d = opendir("/in");
  if (!d) exit(10);
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char src[512], dst[512];
    snprintf(src, sizeof src, "/in/%s", e->d_name);
    snprintf(dst, sizeof dst, "/out/copy-%s", e->d_name);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) exit(11);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
  }
  closedir(d);
}

int main(void) {
  char* task = read_stdin();
  wasmq_progress(10, "reading input");
  copy_inputs();
  wasmq_progress(50, "processing");
  const char* id = strstr(task, "\"task_id\":\"");
  FILE* f = fopen("/out/result.txt", "w");
  if (!f || !id) return 12;
  id += strlen("\"task_id\":\"");
  fprintf(f, "%.*s\n", (int)(strchr(id, '"') - id), id);
  fclose(f);
  wasmq_progress(90, "writing result");
  wasmq_progress(250, "clamped to 100");
  printf("{\"ok\":true,\"attempt\":\"%s\"}\n", getenv("WASMQ_ATTEMPT"));
  fprintf(stderr, "progress: done\n");
  return 0;
}
