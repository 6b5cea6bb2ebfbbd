// No-op handler on aws-lambda-cpp (the C++ runtime bundled in npm aws-lambda-ric): the peer
// our bootstrap is compared with in tests/bench/run.sh. Benchmark only; never shipped.
#include <aws/lambda-runtime/runtime.h>

using namespace aws::lambda_runtime;

static invocation_response handler(invocation_request const &) {
    return invocation_response::success("{}", "application/json");
}

int main() {
    run_handler(handler);
    return 0;
}
