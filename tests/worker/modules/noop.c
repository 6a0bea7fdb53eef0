// Does nothing: the benchmark's task.
int main(void) { return 0; }
