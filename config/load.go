package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path (lookupEnv is os.LookupEnv, or
// a fake). See Parse.
func Load(path string, lookupEnv func(string) (string, bool)) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot read the configuration: %w", path, err)
	}
	return Parse(path, data, lookupEnv)
}

// Parse parses a configuration read from file (its name, for errors);
// Build checks what it says. Unknown keys and values of the wrong type are errors. In string
// values, environment variables are expanded ($NAME or ${NAME}; $$ is a
// literal $), in the values only, never in keys or in the file's structure,
// so a variable cannot inject YAML; an unset variable is an error.
//
// It returns an error only for a file it cannot read on (a syntax error, no
// document, more than one). Every other mistake (an unknown key, a value of
// the wrong type, an unset variable) is kept in the config's source and
// reported by Build with all the others, so that no mistake hides another;
// a value that could not be read is left at its zero value and not blamed
// again. Each error is one line, "file:line: key: message".
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*File, error) {
	src := &source{file: file, lines: map[string]int{}, values: map[string]valueSpot{}, unread: map[string]bool{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, src.yamlError(err)
	}
	if len(root.Content) == 0 {
		return nil, src.errorf("", "the configuration is empty; it needs at least one provider")
	}
	src.index(root.Content[0], "")

	// Pass 1, on the text as written: unknown keys and wrong types, with
	// the line yaml.v3 reports. Node.Decode cannot reject unknown keys.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var strict File
	if err := dec.Decode(&strict); err != nil && !src.recover(err) {
		return nil, src.yamlError(err)
	}
	if err := dec.Decode(new(yaml.Node)); err != io.EOF {
		return nil, src.errorf("", "the file holds more than one YAML document")
	}
	typeErrors := len(src.errs) > 0

	// Pass 2: expand the environment in string values, then decode.
	expandEnv(root.Content[0], "", lookupEnv, func(path, msg string) {
		src.errs = append(src.errs, src.errorf(path, "%s", msg))
		src.unread[path] = true
	})
	cfg := new(File)
	if err := root.Content[0].Decode(cfg); err != nil {
		// Only a value pass 1 refused can fail here (an expanded variable is
		// a string, which pass 1 saw as one): report it once.
		if typeErrors {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, src.yamlError(err)
			}
		} else if !src.recover(err) {
			return nil, src.yamlError(err)
		}
	}
	cfg.src = *src
	return cfg, nil
}

// recover keeps the mistakes of a yaml.v3 type error (unknown keys, wrong
// types, duplicate keys: the decoder reads on past them) to be reported by
// build, marks the values that could not be read, and reports whether err
// was such an error.
func (s *source) recover(err error) bool {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return false
	}
	for _, ce := range s.yamlErrors(err) {
		s.errs = append(s.errs, ce)
		if ce.Path != "" {
			s.unread[ce.Path] = true // an unknown key's path: nothing reads it anyway
		}
	}
	return true
}

// movedKeys are keys of earlier versions, refused as unknown with a hint.
var movedKeys = map[string]string{
	"router.cooldown":         "moved to router.targets[].breaker.cooldown",
	"router.cooldown_ceiling": "moved to router.targets[].breaker.max_retry_after",
	"retry.max_retry_after":   "removed: a Retry-After is waited unless it passes retry.deadline; a cooldown's ceiling is router.targets[].breaker.max_retry_after",
}

var (
	yamlLine      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	cannotDecode  = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)$")
	yamlTagsNames = map[string]string{"str": "a string", "int": "an int", "float": "a number", "bool": "a bool", "seq": "a list", "map": "a mapping", "null": "null"}
)

// yamlError turns a yaml.v3 error into configErrors that name the key, and
// drops the value yaml.v3 quotes, which may be a secret.
func (s *source) yamlError(err error) error {
	ces := s.yamlErrors(err)
	errs := make([]error, len(ces))
	for i, ce := range ces {
		errs[i] = ce
	}
	return errors.Join(errs...)
}

// yamlErrors is yamlError's configErrors, one for each of yaml.v3's.
func (s *source) yamlErrors(err error) []*configError {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []*configError
	for _, m := range msgs {
		sub := yamlLine.FindStringSubmatch(m)
		if sub == nil {
			errs = append(errs, &configError{File: s.file, Line: 1, Msg: strings.TrimPrefix(m, "yaml: ")})
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		ce := &configError{File: s.file, Line: line, Msg: sub[2]}
		if f := unknownField.FindStringSubmatch(sub[2]); f != nil {
			ce.Path, ce.Msg = s.keyAt(line, f[1]), "unknown key"
			if hint, ok := movedKeys[ce.Path]; ok {
				ce.Msg += " (" + hint + ")"
			}
		} else if c := cannotDecode.FindStringSubmatch(sub[2]); c != nil {
			got := yamlTagsNames[c[1]]
			if got == "" {
				got = "!!" + c[1]
			}
			ce.Path, ce.Msg = s.valueAt(line, c[2]), "want "+goTypeName(c[3])+", got "+got
		}
		errs = append(errs, ce)
	}
	return errs
}

// goTypeName says what a Go type of the schema is in YAML terms.
func goTypeName(t string) string {
	switch t = strings.TrimPrefix(t, "*"); {
	case t == "time.Duration":
		return "a duration (e.g. 1.5s, 300ms)"
	case t == "map[string]string":
		return "a mapping of strings"
	case t == "[]string":
		return "a list of strings"
	case t == "[]int":
		return "a list of ints"
	case strings.HasPrefix(t, "[]config."):
		return "a list of mappings"
	case strings.HasPrefix(t, "config."):
		return "a mapping"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an int"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "a bool (true or false)"
	case t == "string":
		return "a string"
	}
	return t
}
