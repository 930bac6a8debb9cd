package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// configError is a mistake in a configuration: the file, the line, the key
// (a path such as providers[1].base_url) and what is wrong. Its text may
// quote a name (of a provider, a type, a strategy) but never a value that may
// be a secret: no key, URL or header value, nothing from the environment.
type configError struct {
	File string
	Line int
	Path string // empty for a syntax error
	Msg  string
}

func (e *configError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
}

// source remembers where each key of a configuration file was written, and
// the mistakes found while reading it, which build reports with the rest.
type source struct {
	file   string
	lines  map[string]int       // path -> line of its key (or of a sequence item)
	values map[string]valueSpot // path -> its value node
	errs   []*configError       // unknown keys, wrong types, unset variables
	unread map[string]bool      // paths whose value could not be read (left zero)
}

// valueSpot is where a value was written, and its text when it is a scalar.
type valueSpot struct {
	line   int
	scalar bool
	text   string
}

// has reports whether path was written in the file.
func (s *source) has(path string) bool { _, ok := s.lines[path]; return ok }

// isUnread reports whether the value at path, or one enclosing it, could not
// be read: its mistake is reported already, and its zero value is no
// mistake of its own.
func (s *source) isUnread(path string) bool {
	for {
		if s.unread[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

// line returns the line of path or, when it was not written, of the nearest
// enclosing key that was (a missing key is reported where it belongs).
func (s *source) line(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

func (s *source) errorf(path, format string, args ...any) *configError {
	return &configError{File: s.file, Line: s.line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// index records the line of every key and sequence item under n.
func (s *source) index(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if _, dup := s.lines[p]; !dup {
				s.lines[p] = k.Line
			}
			s.index(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			s.lines[p] = c.Line
			s.index(c, p)
		}
	}
	if path != "" {
		s.values[path] = valueSpot{line: n.Line, scalar: n.Kind == yaml.ScalarNode, text: n.Value}
	}
}

// keyAt returns the path of the key named key written on line, or "".
func (s *source) keyAt(line int, key string) string {
	var found []string
	for p, l := range s.lines {
		if l == line && (p == key || strings.HasSuffix(p, "."+key)) {
			found = append(found, p)
		}
	}
	return deepest(found)
}

// valueAt returns the path of the value written on line whose text yaml.v3
// quoted as quoted (cut to 7 bytes and "..." when long; empty for a list
// or mapping), or "".
func (s *source) valueAt(line int, quoted string) string {
	prefix, cut := strings.CutSuffix(quoted, "...")
	var found []string
	for p, v := range s.values {
		if v.line != line {
			continue
		}
		if quoted == "" && !v.scalar || v.scalar && (v.text == quoted || cut && strings.HasPrefix(v.text, prefix)) {
			found = append(found, p)
		}
	}
	return deepest(found)
}

// deepest returns the longest of paths (the first in order among equals),
// or "".
func deepest(paths []string) string {
	sort.Slice(paths, func(i, j int) bool {
		if len(paths[i]) != len(paths[j]) {
			return len(paths[i]) > len(paths[j])
		}
		return paths[i] < paths[j]
	})
	if len(paths) == 0 {
		return ""
	}
	return paths[0]
}
