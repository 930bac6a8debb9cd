// Package billing turns every attempt that reached a provider into a usage
// record with its cost, carries records to durable sinks without blocking
// the request path and without losing one, and holds budgets so spending
// stops before it overruns.
package billing
