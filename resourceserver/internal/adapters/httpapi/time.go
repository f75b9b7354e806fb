package httpapi

import (
	"net/http"
	"time"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/resourceserver/internal/app"
)

type currentTimeBody struct {
	CurrentTime string `json:"current_time"`
}

type epochTimeBody struct {
	EpochTime int64 `json:"epoch_time"`
}

func handleCurrentTime(uc app.CurrentTime) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, currentTimeBody{CurrentTime: uc.Handle().Format(time.RFC3339)})
	})
}

func handleEpochTime(uc app.EpochTime) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, epochTimeBody{EpochTime: uc.Handle()})
	})
}

// writeJSON writes every response of the API. Each one answers for one
// token at one instant, so no cache may keep it (RFC 6750 §5.3 on caches
// and bearer-protected answers).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	httpserver.JSON(w, status, v)
}
