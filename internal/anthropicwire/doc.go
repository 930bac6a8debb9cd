// Package anthropicwire translates between OpenAI's Chat Completions format
// and Anthropic's Messages API, both ways, requests, answers and streams. It
// is the one place the two formats meet: provider.Anthropic uses it to serve
// OpenAI chat calls from Anthropic (ChatToMessages, MessagesToChat,
// NewChatStream), and every OpenAI-format target (provider.OpenAI,
// gatewaytest.Sim) to serve the gateway's /v1/messages front door
// (MessagesToChatRequest, ChatToMessagesResponse, NewMessagesStream, through
// ServeMessagesOverChat).
//
// The facts the entry point parsed (model, stream, max_tokens) are the
// Call's: the translators take them as arguments and never read them from
// the body again.
//
// Translators are pure functions over bytes, safe for concurrent use; a
// stream translator is one reader and is not.
package anthropicwire
