// File: src/queue/json.h
//
// JSON for the task model (model.h). ToJson never fails. Every *FromJson validates the whole value and
// refuses bad input with InvalidArgument and a message that starts with the offending field's path:
// "priority: must be an integer from -100 to 100 (got 500)", "result.output_files[2]: must be a string".
//
// A TaskCreateRequest is checked strictly — an unknown field is refused, so a typo ("priorty") does not pass
// silently. The other types are what wasmq itself sends; their parsers ignore unknown fields so that an older
// client can read a newer server.
#pragma once

#include <string_view>

#include "queue/model.h"

namespace wasmq::queue {

Json ToJson(const TaskCreateRequest& r);
Json ToJson(const TaskResult& r);
Json ToJson(const TaskError& e);
Json ToJson(const TaskInfo& t);
Json ToJson(const TaskSummary& s);
Json ToJson(const TaskListResponse& l);
Json ToJson(const QueueStats& s);
Json ToJson(const TaskEvent& e);

// Text to JSON: InvalidArgument "invalid JSON at byte N: ..." on a syntax error, and on nesting deeper than
// json::kMaxDepth (64) levels (json/json.h: deeper values overflow the stack of whoever copies or dumps
// them). Every JSON that reaches wasmq from outside is read through this or json::Parse.
Result<Json> ParseJson(std::string_view text);

Result<TaskCreateRequest> CreateRequestFromJson(const Json& j);
Result<TaskCreateRequest> ParseCreateRequest(std::string_view text);  // ParseJson + CreateRequestFromJson
Result<TaskResult> TaskResultFromJson(const Json& j);
Result<TaskError> TaskErrorFromJson(const Json& j);
Result<TaskInfo> TaskInfoFromJson(const Json& j);
Result<TaskSummary> TaskSummaryFromJson(const Json& j);
Result<TaskListResponse> TaskListResponseFromJson(const Json& j);

}  // namespace wasmq::queue
