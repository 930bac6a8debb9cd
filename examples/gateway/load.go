package main

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

// loadConfig reads the configuration file at path. See parseConfig.
func loadConfig(path string, lookupEnv func(string) (string, bool)) (*config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot read the configuration: %w", path, err)
	}
	return parseConfig(path, data, lookupEnv)
}

// parseConfig parses a configuration read from file; build checks what it
// says. Unknown keys and values of the wrong type are errors. In string
// values, environment variables are expanded ($NAME or ${NAME}; $$ is a
// literal $), in the values only, never in keys or in the file's structure,
// so a variable cannot inject YAML; an unset variable is an error. Every
// error is a configError, and all of them are reported at once
// (errors.Join).
func parseConfig(file string, data []byte, lookupEnv func(string) (string, bool)) (*config, error) {
	src := &source{file: file, lines: map[string]int{}, values: map[string]valueSpot{}}
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
	var strict config
	if err := dec.Decode(&strict); err != nil {
		return nil, src.yamlError(err)
	}
	if err := dec.Decode(new(yaml.Node)); err != io.EOF {
		return nil, src.errorf("", "the file holds more than one YAML document")
	}

	// Pass 2: expand the environment in string values, then decode.
	var errs []error
	expandEnv(root.Content[0], "", lookupEnv, func(path, msg string) { errs = append(errs, src.errorf(path, "%s", msg)) })
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg := new(config)
	if err := root.Content[0].Decode(cfg); err != nil {
		return nil, src.yamlError(err)
	}
	cfg.src = *src
	return cfg, nil
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
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
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
	return errors.Join(errs...)
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
	case strings.HasPrefix(t, "[]main."):
		return "a list of mappings"
	case strings.HasPrefix(t, "main."):
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
