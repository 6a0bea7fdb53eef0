// The benchmark's pipeline: does nothing, so the measurement is wasmq's own cost per task.
int main(void) { return 0; }
