// Package app is the application room: credential lifecycle and
// administration. It holds the client Registry (clients, users, policy,
// admin passwords, sign-in and session endings, each audited), admin
// Sessions, expiry Reminders with their signed webhook delivery, the
// UsageRecorder and AuditWriter that the token endpoint feeds, and the
// Janitor.
package app
