package config

import (
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expandEnv expands environment variables in the string scalars that are
// values under n (mapping keys are left alone). Only $NAME and ${NAME} with
// NAME a valid variable name are expanded; $$ is a literal $, and any other
// $ stays as written. fail is called for an unset variable or an
// unterminated ${.
func expandEnv(n *yaml.Node, path string, lookup func(string) (string, bool), fail func(path, msg string)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			expandEnv(n.Content[i+1], p, lookup, fail)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(c, path+"["+strconv.Itoa(i)+"]", lookup, fail)
		}
	case yaml.ScalarNode:
		if n.ShortTag() != "!!str" || !strings.Contains(n.Value, "$") {
			return
		}
		if i := strings.Index(n.Value, "${"); i >= 0 && !strings.Contains(n.Value[i:], "}") || strings.Contains(n.Value, "${}") {
			fail(path, "unterminated or empty ${...} in the value")
			return
		}
		n.Value = os.Expand(n.Value, func(name string) string {
			switch {
			case name == "$":
				return "$"
			case len(name) == 1 && !validEnvName(name):
				return "$" + name // $!, $1, $*: not variables here
			case !validEnvName(name):
				fail(path, "invalid variable name in ${...}")
				return ""
			}
			v, ok := lookup(name)
			if !ok {
				fail(path, "environment variable "+name+" is not set")
			}
			return v
		})
	}
}

// validEnvName reports whether s is a portable environment variable name.
func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
