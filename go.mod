module github.com/llmgate/gateway

go 1.26.0
