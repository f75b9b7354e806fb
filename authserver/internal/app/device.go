package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// DeviceCookies issue and check known-device tokens (OWASP, "Slow Down
// Online Guessing Attacks with Device Cookies"). A browser where a user
// signed in carries one, naming that user; its next sign-in as that user
// is counted under the account and this device alone, so neither guessing
// at the account from elsewhere nor failures from the browser's address
// slow it down. The token is "<device>.<issued>.<mac>": a random device
// id, the Unix time it was issued, and an HMAC-SHA256 over both and the
// username. It names no user: it is only good for the one it was made for.
type DeviceCookies struct {
	key []byte
	now Clock
}

// DeviceCookieTTL is how long a device token is good for: about the most
// a browser keeps a cookie (400 days in Chrome).
const DeviceCookieTTL = 365 * 24 * time.Hour

// maxDeviceToken bounds what Check reads.
const maxDeviceToken = 128

// NewDeviceCookies returns device cookies signed with a key derived from
// secret, which should have at least 32 random bytes and be shared by
// every replica.
func NewDeviceCookies(secret []byte, now Clock) *DeviceCookies {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("oauth2ref device cookie v1"))
	return &DeviceCookies{key: m.Sum(nil), now: now}
}

// Issue returns a new device token for username (in its prepared form).
func (d *DeviceCookies) Issue(username string) string {
	id := randomString(16)
	issued := strconv.FormatInt(d.now().Unix(), 10)
	return id + "." + issued + "." + d.mac(id, issued, username)
}

// Check returns the device id of token if it is a good token for username.
func (d *DeviceCookies) Check(token, username string) (string, bool) {
	if d == nil || token == "" || len(token) > maxDeviceToken {
		return "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" {
		return "", false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(d.mac(parts[0], parts[1], username))) {
		return "", false
	}
	issued, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", false
	}
	age := d.now().Sub(time.Unix(issued, 0))
	if age < -time.Minute || age > DeviceCookieTTL {
		return "", false
	}
	return parts[0], true
}

func (d *DeviceCookies) mac(id, issued, username string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(id + "\x00" + issued + "\x00" + username))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
