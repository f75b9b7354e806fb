package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/storage"
)

// The config schema's lists of allowed values are written as JSON; the
// values themselves are the library's. This test keeps the two one list.
func TestSchemaEnumsAreTheLibrarys(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(configSchema), &doc))
	at := func(path ...string) []any {
		var node any = doc
		for _, p := range path {
			m, ok := node.(map[string]any)
			require.True(t, ok, "schema path %v", path)
			node = m[p]
		}
		list, ok := node.([]any)
		require.True(t, ok, "schema path %v is a list", path)
		return list
	}
	strs := func(in ...string) []any {
		out := make([]any, len(in))
		for i, s := range in {
			out[i] = s
		}
		return out
	}
	var grants, groups, backends, durable []string
	for _, g := range authserver.AllGrants() {
		grants = append(grants, string(g))
	}
	for _, g := range storage.Groups() {
		groups = append(groups, string(g))
	}
	for _, b := range storage.Backends() {
		backends = append(backends, string(b))
		if b != storage.Redis {
			durable = append(durable, string(b)) // the default cannot be Redis: it holds only expiring groups
		}
	}
	assert.ElementsMatch(t, strs(grants...), at("properties", "grants", "items", "enum"))
	assert.ElementsMatch(t, strs(jwtkeys.Algorithms...), at("properties", "signing", "properties", "algorithm", "enum"))
	assert.ElementsMatch(t, strs(groups...), at("properties", "storage", "properties", "groups", "propertyNames", "enum"))
	assert.ElementsMatch(t, strs(backends...), at("properties", "storage", "properties", "groups", "additionalProperties", "enum"))
	assert.ElementsMatch(t, strs(durable...), at("properties", "storage", "properties", "default", "enum"))
	assert.ElementsMatch(t, strs(string(authserver.RegistrationOff), string(authserver.RegistrationToken), string(authserver.RegistrationOpen)),
		at("properties", "registration", "properties", "mode", "enum"))
}

// The binary's defaults are the library's.
func TestDefaultsAreTheLibrarys(t *testing.T) {
	c, d, sd := defaultConfig(), authserver.Defaults(), storage.Defaults()
	assert.Equal(t, d.Issuer, c.Issuer)
	assert.Equal(t, d.AccessTTL, c.Tokens.AccessTTL.D())
	assert.Equal(t, d.MaxAccessTTL, c.Tokens.MaxAccessTTL.D())
	assert.Equal(t, d.RefreshTTL, c.Tokens.RefreshTTL.D())
	assert.Equal(t, d.LoginLimits.Window, c.LoginLimits.Window.D())
	assert.Equal(t, d.CodeTTL, c.Browser.CodeTTL.D())
	assert.Equal(t, sd.Postgres.QueryTimeout, c.Postgres.QueryTimeout.D())
	assert.Equal(t, string(sd.Default), c.Storage.Default)
	assert.Equal(t, string(d.Registration.Mode), c.Registration.Mode)
	assert.Equal(t, d.Registration.MaxClients, c.Registration.MaxClients)
}
