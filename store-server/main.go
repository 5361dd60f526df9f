// Command store-server runs FerretDB v1.24 with its SQLite handler as a child process of the
// gateway (or of a script), so development and tests need no MongoDB installation.
//
// It takes an exclusive lock on its data folder, so a second server can never open the same files,
// and records its address in that folder so scripts can reach a running gateway's store. It stops
// when its standard input closes (the parent exited, even by SIGKILL) or on SIGTERM/SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// addressFile is read by the gateway's store launcher (src/store/embedded-store.ts).
const addressFile = "store-address.json"

type address struct {
	PID int    `json:"pid"`
	URI string `json:"uri"`
}

func main() {
	dataDir := flag.String("data", "", "data folder (created if missing)")
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on; port 0 picks a free one")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	// WAL with synchronous=normal survives any crash of this process or the gateway (the tests kill
	// both); only an OS crash or power loss can lose the last commits, as with MongoDB's default
	// write concern. "full" fsyncs every commit, which caps the store at a few hundred writes/s.
	synchronous := flag.String("synchronous", "normal", "SQLite synchronous mode: normal or full")
	flag.Parse()

	if *synchronous != "normal" && *synchronous != "full" {
		fmt.Fprintln(os.Stderr, "store-server: -synchronous must be normal or full")
		os.Exit(2)
	}
	if err := run(*dataDir, *listen, *logLevel, *synchronous); err != nil {
		fmt.Fprintln(os.Stderr, "store-server:", err)
		os.Exit(1)
	}
}

func run(dataDir, listen, logLevel, synchronous string) error {
	if dataDir == "" {
		return errors.New("-data is required")
	}
	absDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(absDir, 0o700); err != nil {
		return err
	}

	lock, err := lockDataDir(absDir)
	if err != nil {
		return err
	}
	defer lock.Close()

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + absDir + "/?_pragma=synchronous(" + synchronous + ")",
		Logger:    logger,
	})
	if err != nil {
		return err
	}

	// STORE_PPROF_ADDR (a loopback address, e.g. 127.0.0.1:6060) serves Go's profiles of this
	// process, for the benchmarks' question "where does the store's CPU go" (README, Benchmark).
	if addr := os.Getenv("STORE_PPROF_ADDR"); addr != "" {
		if err := servePprof(addr); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The parent holds our stdin open; EOF means it is gone, whatever way it died.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = db.Run(ctx)
	}()

	uri := db.MongoDBURI() // blocks until the listener is up
	addrPath := filepath.Join(absDir, addressFile)
	if err := writeAddress(addrPath, address{PID: os.Getpid(), URI: uri}); err != nil {
		cancel()
		<-done
		return err
	}
	defer os.Remove(addrPath)

	// The launcher waits for this exact line.
	fmt.Printf("READY %s\n", uri)

	<-done
	return nil
}

// lockDataDir takes an exclusive, non-blocking flock that the kernel releases when we die.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".store.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder %s is already used by another store server", dir)
	}
	return f, nil
}

// writeAddress writes atomically so a reader never sees half a file.
func writeAddress(path string, a address) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// servePprof serves net/http/pprof on addr, which must be a loopback address: profiles show
// the store's internals and must never be reachable from elsewhere.
func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("STORE_PPROF_ADDR: %w", err)
	}

	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("STORE_PPROF_ADDR must be a loopback address, got %q", addr)
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("STORE_PPROF_ADDR: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)

	go func() { _ = http.Serve(l, mux) }()

	return nil
}
