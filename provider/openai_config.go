package provider

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Validation of OpenAIConfig. Error messages name the field at fault but
// never echo a value that may hold a secret (the key, a URL's userinfo or
// query, header values).

// reservedHeaders are set by the provider itself or by net/http; configured
// extras may not override them.
var reservedHeaders = map[string]bool{
	"Authorization": true, "Api-Key": true, "Proxy-Authorization": true,
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true,
	"Accept": true, "Accept-Encoding": true, "Host": true,
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Expect": true,
}

// minSecretLen is the shortest key or header value searched for in a URL or
// scrubbed from error text; shorter ones would match innocent text.
const minSecretLen = 8

func validateOpenAI(cfg *OpenAIConfig) error {
	prefix := "provider: " + cfg.Name + ": "
	if !validHeaderValue(cfg.Name) || len(cfg.Name) > 128 {
		return errors.New("provider: openai: Name must be at most 128 printable characters")
	}
	if len(cfg.APIKey) >= minSecretLen && strings.Contains(cfg.Name, cfg.APIKey) {
		return errors.New("provider: openai: Name holds the API key; names appear in metrics and logs")
	}
	if !validHeaderValue(cfg.APIKey) {
		return errors.New(prefix + "APIKey holds a control character")
	}
	for k, v := range cfg.Headers {
		if !validHeaderName(k) {
			return errors.New(prefix + "Headers: invalid header name " + quoteSafe(k))
		}
		if reservedHeaders[http.CanonicalHeaderKey(k)] {
			return errors.New(prefix + "Headers: " + k + " is set by the provider and may not be configured")
		}
		if !validHeaderValue(v) {
			return errors.New(prefix + "Headers: the value of " + k + " holds a control character (CR, LF…)")
		}
	}
	for _, m := range cfg.Models {
		if m == "" {
			return errors.New(prefix + "Models holds an empty name")
		}
	}
	for k, v := range cfg.ModelMap {
		if k == "" || v == "" {
			return errors.New(prefix + "ModelMap holds an empty model name")
		}
	}
	if az := cfg.Azure; az != nil {
		if az.APIVersion == "" {
			return errors.New(prefix + "Azure.APIVersion is required (e.g. 2024-10-21)")
		}
		for _, r := range az.APIVersion {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
				return errors.New(prefix + "Azure.APIVersion must hold only letters, digits, '-', '.' and '_'")
			}
		}
		for m, d := range az.Deployments {
			if m == "" {
				return errors.New(prefix + "Azure.Deployments holds an empty model name")
			}
			if err := checkDeployment(d); err != nil {
				return errors.New(prefix + "Azure.Deployments[" + quoteSafe(m) + "]: " + err.Error())
			}
		}
	}
	return nil
}

// parseBaseURL checks cfg.BaseURL and returns it without a trailing slash.
func parseBaseURL(cfg OpenAIConfig) (*url.URL, error) {
	prefix := "provider: " + cfg.Name + ": BaseURL "
	if cfg.BaseURL == "" {
		return nil, errors.New(prefix + "is required")
	}
	if len(cfg.APIKey) >= minSecretLen && strings.Contains(cfg.BaseURL, cfg.APIKey) {
		return nil, errors.New(prefix + "holds the API key; put it in APIKey only")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil { // url.Error repeats the URL, which may hold a secret
		return nil, errors.New(prefix + "is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New(prefix + "must be an absolute http or https URL")
	case u.Opaque != "" || u.Host == "":
		return nil, errors.New(prefix + "must name a host")
	case !validPort(u):
		// Not echoed: the URL may come from the environment.
		return nil, errors.New(prefix + "has a port no dialer takes: its port must be a number from 1 to 65535")
	case u.User != nil:
		return nil, errors.New(prefix + "must not hold userinfo; put the key in APIKey")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New(prefix + "must not hold a query; put the key in APIKey and the Azure api-version in Azure.APIVersion")
	case u.Fragment != "" || strings.Contains(cfg.BaseURL, "#"):
		return nil, errors.New(prefix + "must not hold a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// validPort reports whether u's port is one from 1 to 65535, or none (an
// empty one after the colon too: net/http dials the scheme's, as RFC 3986
// says). url.Parse takes any run of digits.
func validPort(u *url.URL) bool {
	p := u.Port()
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// joinPath returns base with suffix (unescaped, starting with '/') appended
// to its path.
func joinPath(base *url.URL, suffix string) *url.URL {
	u := *base
	if base.RawPath != "" {
		u.RawPath = base.RawPath + suffix
	}
	u.Path = base.Path + suffix
	return &u
}

// secretsOf lists the strings that must never appear in an error's text.
func secretsOf(cfg OpenAIConfig) []string {
	var s []string
	if cfg.APIKey != "" {
		s = append(s, cfg.APIKey)
	}
	for _, v := range cfg.Headers {
		if len(v) >= minSecretLen {
			s = append(s, v)
		}
	}
	return s
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s holds no control character but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// quoteSafe quotes a configuration name (not a value) for an error message.
func quoteSafe(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(strconv.Quote(s), "?")
}
