// `safesail serve`'s library side: an OpenAI-compatible server over the runtime with SAE steering (docs/serve.md).
export { startServer, isLoopbackHost, checkApiKey, SERVE_DEFAULTS, API_KEY_ENV, type ServeOptions, type RunningServer } from "./server.ts";
export { prepareCompletion, runCompletion, CompletionAborted, type ServeContext, type PreparedCompletion, type CompletionResult, type CompletionDelta, type LogprobEntry, type TopLogprob, type AnswerTokenFeatures } from "./completion.ts";
export { parseChatRequest, MAX_TOP_LOGPROBS, MAX_TOP_FEATURES, MAX_STOP_STRINGS, type ChatCompletionParams, type SafesailExtension } from "./request.ts";
export { ApiError, badRequest, type ApiErrorBody, type ApiErrorType } from "./errors.ts";
export { JobQueue, QueueFullError, JobAbortedError, type QueueStats } from "./queue.ts";
