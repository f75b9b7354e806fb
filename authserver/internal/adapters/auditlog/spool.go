package auditlog

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The spool: JSON lines, one event each, in files named
// audit-spool-<random>.jsonl in the spool directory. Each process appends to
// a file of its own, which it holds an exclusive lock on (flock) for as long
// as it runs; a file nobody holds belongs to a process that is gone, and the
// first process to lock it replays it into the table and removes it. So a
// data directory may be shared, and a spool survives a crash.
const (
	spoolPrefix = "audit-spool-"
	spoolSuffix = ".jsonl"
)

// spoolLine is one event on disk.
type spoolLine struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Type     string    `json:"event"`
	ClientID string    `json:"client_id,omitempty"`
	UserID   string    `json:"user_id,omitempty"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
}

type spoolFile struct {
	f    *os.File
	path string
}

type spool struct {
	dir string
	log *zap.Logger

	mu   sync.Mutex // appends and truncation of own
	own  spoolFile
	size int64 // bytes appended to own and fsynced
	done int64 // bytes of own already written to the table
	buf  []byte

	// Only the replaying goroutine touches these (and close, after it
	// stopped).
	orphans []spoolFile
}

// openSpool takes a new spool file of its own in dir, and the files of
// processes that are gone, for replay.
func openSpool(dir string, log *zap.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auditlog: spool directory: %w", err)
	}
	s := &spool{dir: dir, log: log}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("auditlog: spool directory: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), spoolPrefix) || !strings.HasSuffix(e.Name(), spoolSuffix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(path, os.O_RDWR, 0) //nolint:gosec // G304: a spool file in our own data directory
		if err != nil {
			log.Warn("audit spool left behind cannot be opened; it is not replayed", zap.String("path", path), zap.Error(err))
			continue
		}
		if ok, err := tryLock(f); err != nil || !ok {
			_ = f.Close() // a running process's own spool
			continue
		}
		s.orphans = append(s.orphans, spoolFile{f: f, path: path})
	}

	// The file is locked under a name no one scans for, then renamed: a
	// process scanning meanwhile never takes it for a dead one's.
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := spoolPrefix + hex.EncodeToString(rnd[:]) + spoolSuffix
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600) //nolint:gosec // G304: a name we made, in our own data directory
	if err != nil {
		s.close()
		return nil, fmt.Errorf("auditlog: spool: %w", err)
	}
	s.own = spoolFile{f: f, path: filepath.Join(dir, name)}
	if ok, err := tryLock(f); err != nil || !ok {
		_ = f.Close()
		_ = os.Remove(tmp)
		s.own.f = nil
		s.close()
		return nil, fmt.Errorf("auditlog: spool: cannot lock %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.own.path); err != nil {
		_ = os.Remove(tmp)
		s.close()
		return nil, fmt.Errorf("auditlog: spool: %w", err)
	}
	if err := syncDir(dir); err != nil {
		s.close()
		return nil, fmt.Errorf("auditlog: spool: %w", err)
	}
	return s, nil
}

// append writes entries at the end of the spool and fsyncs it. On failure
// nothing of them stays, so the file holds only whole lines.
func (s *spool) append(entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.own.f == nil {
		return errors.New("auditlog: spool is closed")
	}
	s.buf = s.buf[:0]
	for _, e := range entries {
		line, err := json.Marshal(spoolLine{
			ID: e.ID.String(), Time: e.Event.Time, Type: string(e.Event.Type), ClientID: e.Event.ClientID,
			UserID: e.Event.UserID, Outcome: string(e.Event.Outcome), Detail: e.Event.Detail,
		})
		if err != nil {
			return fmt.Errorf("auditlog: spool: %w", err)
		}
		s.buf = append(append(s.buf, line...), '\n')
	}
	_, err := s.own.f.Write(s.buf)
	if err == nil {
		err = s.own.f.Sync()
	}
	if err != nil {
		_ = s.own.f.Truncate(s.size)
		return fmt.Errorf("auditlog: spool: %w", err)
	}
	s.size += int64(len(s.buf))
	return nil
}

// replay hands what is spooled to write, at most chunkSize events at a time, and
// forgets each part once written: a dead process's file is removed, this
// process's own is emptied once all of it is written. It returns how many
// events write took. On failure the rest waits for the next call; a part
// written again after a failure or a crash is harmless, since the table
// skips ids it has.
func (s *spool) replay(ctx context.Context, chunkSize int, write func([]Entry) error) (int, error) {
	total := 0
	for len(s.orphans) > 0 {
		o := s.orphans[0]
		st, err := o.f.Stat()
		if err != nil {
			return total, fmt.Errorf("auditlog: spool %s: %w", o.path, err)
		}
		n, _, err := s.replayRange(ctx, o, 0, st.Size(), chunkSize, write)
		total += n
		if err != nil {
			return total, err
		}
		// Removed before it is unlocked: no one else replays it again.
		if err := os.Remove(o.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return total, fmt.Errorf("auditlog: spool: %w", err)
		}
		_ = syncDir(s.dir)
		_ = o.f.Close()
		s.orphans = s.orphans[1:]
		s.log.Info("audit spool left by a process that is gone replayed into the table", zap.String("path", o.path), zap.Int("events", n))
	}

	s.mu.Lock()
	start, end := s.done, s.size
	s.mu.Unlock()
	if start == end {
		return total, nil
	}
	n, consumed, err := s.replayRange(ctx, s.own, start, end, chunkSize, write)
	total += n
	s.mu.Lock()
	s.done = start + consumed
	if s.done == s.size {
		// Everything is in the table. Should the truncation not reach the
		// disk, the next start writes it all again, to no effect.
		if terr := s.own.f.Truncate(0); terr == nil {
			s.size, s.done = 0, 0
		}
	}
	s.mu.Unlock()
	return total, err
}

// replayRange writes the events in [start, end) of f, and returns how many
// it wrote and how many bytes they (and any unreadable lines among them)
// took. A last line without its newline was cut short by a crash before
// its fsync, so no one was told it was stored: it is skipped.
func (s *spool) replayRange(ctx context.Context, f spoolFile, start, end int64, chunkSize int, write func([]Entry) error) (events int, consumed int64, err error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f.f, start, end-start), 64<<10)
	var (
		chunk []Entry
		pos   int64
		bad   int
	)
	flush := func() error {
		if len(chunk) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := write(chunk); err != nil {
				return err
			}
			events += len(chunk)
			chunk = chunk[:0]
		}
		consumed = pos
		return nil
	}
	defer func() {
		if bad > 0 {
			s.log.Warn("audit spool lines that cannot be read were skipped", zap.String("path", f.path), zap.Int("lines", bad))
		}
	}()
	for {
		line, rerr := r.ReadBytes('\n')
		if rerr == io.EOF {
			pos += int64(len(line)) // a torn last line, or nothing
			break
		}
		if rerr != nil {
			return events, consumed, fmt.Errorf("auditlog: spool %s: %w", f.path, rerr)
		}
		pos += int64(len(line))
		e, derr := decodeLine(line)
		if derr != nil {
			bad++
			continue
		}
		chunk = append(chunk, e)
		if len(chunk) >= chunkSize {
			if err := flush(); err != nil {
				return events, consumed, err
			}
		}
	}
	return events, consumed, flush()
}

func decodeLine(line []byte) (Entry, error) {
	var l spoolLine
	if err := json.Unmarshal(line, &l); err != nil {
		return Entry{}, err
	}
	id, err := parseID(l.ID)
	if err != nil {
		return Entry{}, err
	}
	return Entry{ID: id, Event: domain.AuditEvent{
		Time: l.Time, Type: domain.AuditType(l.Type), ClientID: l.ClientID, UserID: l.UserID,
		Outcome: domain.AuditOutcome(l.Outcome), Detail: l.Detail,
	}}, nil
}

// close releases the files. This process's own file is removed if it is
// empty, else kept, locked no more, for the next start to replay.
func (s *spool) close() {
	for _, o := range s.orphans {
		_ = o.f.Close()
	}
	s.orphans = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.own.f == nil {
		return
	}
	if s.size == 0 {
		_ = os.Remove(s.own.path)
		_ = syncDir(s.dir)
	}
	_ = s.own.f.Close()
	s.own.f = nil
}

// syncDir makes a file's creation, renaming or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: our own data directory
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
