package provider

import (
	"errors"
	"net/url"
	"strings"

	"github.com/llmgate/gateway"
)

// azureRoutes builds Azure OpenAI URLs:
// {BaseURL}/openai/deployments/{deployment}/{operation}?api-version=V,
// {BaseURL}/openai/models?api-version=V for the model list and
// {BaseURL}/openai/responses?api-version=V for the Responses API.
type azureRoutes struct {
	base        *url.URL
	query       string
	deployments map[string]string
}

func newAzureRoutes(base *url.URL, cfg *AzureConfig) *azureRoutes {
	a := &azureRoutes{
		base:        base,
		query:       "api-version=" + url.QueryEscape(cfg.APIVersion),
		deployments: make(map[string]string, len(cfg.Deployments)),
	}
	for k, v := range cfg.Deployments {
		a.deployments[k] = v
	}
	return a
}

// url returns the URL of op for model (already renamed by ModelMap).
func (a *azureRoutes) url(op gateway.Op, model string) (*url.URL, error) {
	var u *url.URL
	switch op {
	case gateway.OpModels:
		u = joinPath(a.base, "/openai/models")
	case gateway.OpResponses:
		// The Responses API names the deployment in the body's model.
		u = joinPath(a.base, "/openai/responses")
	default:
		dep, ok := a.deployments[model]
		if !ok {
			dep = model
			// The model comes from the caller here, so it must not be able to
			// climb out of its path segment.
			if err := checkDeployment(dep); err != nil {
				return nil, gateway.ErrBadRequest.WithMessage("provider: model cannot name an Azure deployment: " + err.Error())
			}
		}
		suffix := opPaths[op]
		u = joinPath(a.base, "/openai/deployments/"+dep+suffix)
		u.RawPath = a.base.EscapedPath() + "/openai/deployments/" + url.PathEscape(dep) + suffix
	}
	u.RawQuery = a.query
	return u, nil
}

// responsesModel returns the deployment a Responses API call to model must
// name in its body's model (Azure's Responses API takes the deployment
// there, not in the path), when it is not the model itself. a may be nil
// (not Azure).
func (a *azureRoutes) responsesModel(op gateway.Op, model string) (string, bool) {
	if a == nil || op != gateway.OpResponses {
		return "", false
	}
	dep, ok := a.deployments[model]
	return dep, ok && dep != model
}

// checkDeployment rejects names that are not one plain path segment.
func checkDeployment(d string) error {
	switch {
	case d == "":
		return errors.New("empty deployment name")
	case d == "." || d == "..":
		return errors.New("deployment name may not be . or ..")
	case strings.ContainsAny(d, "/\\?#%"):
		return errors.New("deployment name may not hold /, \\, ?, # or %")
	case !validHeaderValue(d):
		return errors.New("deployment name holds a control character")
	}
	return nil
}
