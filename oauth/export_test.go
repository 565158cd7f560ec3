package oauth

// CachedClients is how many clients s holds in its cache.
func CachedClients(s *Server) int {
	if s.cache == nil {
		return 0
	}
	return s.cache.len()
}
