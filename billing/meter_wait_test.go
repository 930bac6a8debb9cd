package billing_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
)

// A call whose answer is not yet read is open: Wait reports it (with
// ctx's error) and returns only once the call has ended and its record was
// handed to the Recorder, so a shutdown that waits loses no record.
func TestMeterWaitCoversACallUntilItsRecordIsHandedOver(t *testing.T) {
	m, rec := newMeter(t, billing.MeterConfig{})
	require.NoError(t, m.Wait(context.Background()), "no call: nothing to wait for")

	req, err := http.NewRequest(http.MethodPost, "http://gw/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	resp, err := gateway.NewClient(gateway.Chain(canned{name: "up", body: nonStream}, m.Middleware())).Do(req)
	require.NoError(t, err)
	assert.Equal(t, int64(1), m.Stats().Open, "its answer not read: the call has not ended")

	done, cancel := context.WithCancel(context.Background())
	cancel()
	err = m.Wait(done)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "1 metered call")
	assert.Empty(t, rec.all(), "no record before the call ends")

	waited := make(chan error, 1)
	go func() { waited <- m.Wait(context.Background()) }()
	_, err = io.ReadAll(resp.Body) // the call ends: its record is made
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, <-waited)
	assert.Len(t, rec.all(), 1, "Wait returned after the record was handed over")
	assert.Zero(t, m.Stats().Open)
}

// A call the budget refuses is never open: it has no record to wait for.
func TestMeterWaitIgnoresARefusedCall(t *testing.T) {
	m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: billing.NewLocalBudgets()}})
	rt := gateway.Chain(canned{name: "up", body: nonStream}, m.Middleware())
	resp, _ := call(t, rt, gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1}}, chatBody)
	require.Equal(t, http.StatusPaymentRequired, resp.StatusCode, "a limit of a micro-dollar refuses any call")
	assert.Equal(t, int64(1), m.Stats().Refused)
	assert.Zero(t, m.Stats().Open)
	require.NoError(t, m.Wait(context.Background()))
}

// failing is a Provider whose every round trip fails before an answer.
type failing struct{}

func (failing) Name() string { return "down" }
func (failing) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, errors.New("connection refused")
}

// A call that fails without an upstream answer is not left open once its
// caller has the failure, so a later Wait does not hang on it.
func TestMeterWaitIsNotHeldByAFailedCall(t *testing.T) {
	m, rec := newMeter(t, billing.MeterConfig{})
	req, err := http.NewRequest(http.MethodPost, "http://gw/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	resp, err := gateway.NewClient(gateway.Chain(failing{}, m.Middleware())).Do(req)
	require.NoError(t, err, "the client gets the failure as an answer")
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	resp.Body.Close()
	assert.Zero(t, m.Stats().Open)
	require.NoError(t, m.Wait(context.Background()))
	assert.Len(t, rec.all(), 1, "the failed attempt is recorded")
}

// panicking is a Provider with a bug: every round trip panics.
type panicking struct{}

func (panicking) Name() string                                    { return "buggy" }
func (panicking) RoundTrip(*http.Request) (*http.Response, error) { panic("provider bug") }

// A call whose provider panics ends as the panic unwinds (the entry point
// sees to it): it is not left open, or every later Wait would wait out its
// whole ctx.
func TestMeterWaitIsNotHeldByAPanickedCall(t *testing.T) {
	m, _ := newMeter(t, billing.MeterConfig{})
	srv := httptest.NewUnstartedServer(gateway.NewHandler(gateway.Chain(panicking{}, m.Middleware())))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	_, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
	require.Error(t, err, "net/http aborts the response")
	require.Eventually(t, func() bool { return m.Stats().Open == 0 }, 10*time.Second, time.Millisecond)
}

// blockingRecorder holds each Enqueue until released, telling entered.
type blockingRecorder struct {
	records
	entered, release chan struct{}
}

func (r *blockingRecorder) Enqueue(rec billing.Record) error {
	r.entered <- struct{}{}
	<-r.release
	return r.records.Enqueue(rec)
}

// While a call's record is being handed over (the Recorder has not taken
// it yet), the call is still open: Wait does not report it done before
// its record is in the Recorder.
func TestMeterWaitCountsTheCallUntilItsRecordIsTaken(t *testing.T) {
	rec := &blockingRecorder{entered: make(chan struct{}), release: make(chan struct{})}
	m, err := billing.NewMeter(rec, billing.MeterConfig{})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://gw/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	resp, err := gateway.NewClient(gateway.Chain(canned{name: "up", body: nonStream}, m.Middleware())).Do(req)
	require.NoError(t, err)
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body) // ends the call: its record goes to the Recorder
		resp.Body.Close()
		read <- err
	}()
	<-rec.entered
	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, m.Wait(done), "open while the Recorder has not taken its record")
	close(rec.release)
	require.NoError(t, <-read)
	require.NoError(t, m.Wait(context.Background()))
	assert.Len(t, rec.all(), 1)
}
