package config

import (
	"maps"
	"slices"
)

// ModelNames are the models f names, sorted, each once: the providers'
// models, model_map keys and values and Azure deployments' models, the
// router targets' models and model_map keys and values, the models of the
// limits' rules and of the keys listed under keys.memory. Entries ending
// in "*" (a key's or a rule's pattern) are kept as they are. It is the
// metrics section's default list of models labelled by name.
func (f *File) ModelNames() []string {
	set := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			if n != "" {
				set[n] = true
			}
		}
	}
	addMap := func(m map[string]string) {
		for k, v := range m {
			add(k, v)
		}
	}
	for i := range f.Providers {
		p := &f.Providers[i]
		add(p.Models...)
		addMap(p.ModelMap)
		if p.Azure != nil {
			add(slices.Collect(maps.Keys(p.Azure.Deployments))...)
		}
	}
	for i := range f.Router.Targets {
		add(f.Router.Targets[i].Models...)
		addMap(f.Router.Targets[i].ModelMap)
	}
	for i := range f.Limits.Rate.Rules {
		add(f.Limits.Rate.Rules[i].Models...)
	}
	if f.Keys != nil {
		for i := range f.Keys.Memory {
			add(f.Keys.Memory[i].Models...)
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// fileTenants are the tenants f names, sorted, each once: those of the keys
// listed under keys.memory, the demo key's, and those given budgets under
// billing.budgets.tenants. They are what "metrics: {tenants: true}" labels.
func fileTenants(f *File) []string {
	set := map[string]bool{}
	if f.Keys != nil {
		for i := range f.Keys.Memory {
			if t := f.Keys.Memory[i].Tenant; t != "" {
				set[t] = true
			}
		}
		if f.Keys.Demo {
			set[demoKeyID] = true
		}
	}
	for t := range f.Billing.Budgets.Tenants {
		set[t] = true
	}
	return slices.Sorted(maps.Keys(set))
}
