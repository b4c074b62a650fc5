// One Converse call with @aws-sdk/client-bedrock-runtime as a team builds it: default retry settings,
// the key from AWS_BEARER_TOKEN_BEDROCK, the CA from NODE_EXTRA_CA_CERTS. Driven by
// tests/integration/test_sdk_denials.py and test_js_sdk.py; prints one JSON line with the outcome.
//
//   node converse.mjs '{"endpoint": "https://127.0.0.1:8443", "modelId": "nova-lite", "user": "alice",
//                       "handler": "default" | "http1", "stream": false}'
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const options = JSON.parse(process.argv[2]);
const client = new BedrockRuntimeClient({
  region: "us-east-1",
  endpoint: options.endpoint,
  // "default" is the SDK's own HTTP/2 handler; "http1" the HTTP/1.1 one a team would have to opt into.
  ...(options.handler === "http1" ? { requestHandler: new NodeHttpHandler() } : {}),
});
if (options.user) {
  client.middlewareStack.add(
    (next) => (args) => {
      args.request.headers["x-cost-sentry-user"] = options.user;
      return next(args);
    },
    { step: "build", name: "costSentryUser" },
  );
}
const input = {
  modelId: options.modelId,
  messages: [{ role: "user", content: [{ text: options.text ?? "Summarise our cloud spend in one line." }] }],
  inferenceConfig: { maxTokens: options.maxTokens ?? 64 },
};
const started = performance.now();
let outcome;
try {
  if (options.stream) {
    const response = await client.send(new ConverseStreamCommand(input));
    let text = "";
    let usage = null;
    let metadataKeys = null;
    for await (const event of response.stream) {
      if (event.contentBlockDelta) text += event.contentBlockDelta.delta.text ?? "";
      if (event.metadata) {
        usage = event.metadata.usage;
        metadataKeys = Object.keys(event.metadata);
      }
    }
    outcome = { ok: true, text, usage, metadataKeys, attempts: response.$metadata.attempts };
  } else {
    const response = await client.send(new ConverseCommand(input));
    outcome = {
      ok: true,
      text: response.output.message.content[0].text,
      usage: response.usage,
      attempts: response.$metadata.attempts,
      status: response.$metadata.httpStatusCode,
    };
  }
} catch (error) {
  outcome = {
    ok: false,
    name: error.name,
    message: error.message,
    status: error.$metadata?.httpStatusCode ?? null,
    attempts: error.$metadata?.attempts ?? null,
    totalRetryDelay: error.$metadata?.totalRetryDelay ?? null,
    code: error.code ?? null,
  };
}
outcome.elapsedMs = performance.now() - started;
client.destroy();
console.log(JSON.stringify(outcome));
