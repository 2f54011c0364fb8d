// Command bqemu runs the BigQuery emulator (github.com/goccy/bigquery-emulator)
// on a loopback address with one project and one dataset, for the warehouse
// conformance suite (internal/conformance).
//
// It lives in its own module so that the emulator's ZetaSQL dependency, which
// needs clang and about eleven minutes to compile, never enters the main
// module's build graph. Build and start it through scripts/bqemu.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/goccy/bigquery-emulator/server"
	"github.com/goccy/bigquery-emulator/types"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bqemu:", err)
		os.Exit(1)
	}
}

func run() error {
	host := flag.String("host", "127.0.0.1", "address to listen on (loopback by default: the emulator has no authentication)")
	httpPort := flag.Int("port", 9050, "HTTP port of the BigQuery REST API")
	grpcPort := flag.Int("grpc-port", 9060, "gRPC port of the BigQuery Storage API")
	project := flag.String("project", "edugrid-local", "project ID")
	dataset := flag.String("dataset", "edugrid", "dataset created at start")
	logLevel := flag.String("log-level", "error", "emulator log level: debug, info, warn or error")
	flag.Parse()

	p := types.NewProject(*project)
	if *dataset != "" {
		p.Datasets = append(p.Datasets, types.NewDataset(*dataset))
	}
	srv, err := server.New(server.TempStorage)
	if err != nil {
		return err
	}
	if err := srv.SetProject(p.ID); err != nil {
		return err
	}
	if err := srv.Load(server.StructSource(p)); err != nil {
		return err
	}
	if err := srv.SetLogLevel(server.LogLevel(*logLevel)); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	httpAddr := fmt.Sprintf("%s:%d", *host, *httpPort)
	grpcAddr := fmt.Sprintf("%s:%d", *host, *grpcPort)
	// Clients reach the emulator's gRPC server through writeProxy (proxy.go), on the advertised port;
	// the emulator's own listens on a free loopback port.
	lis, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	inner, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	proxy, err := serveWriteProxy(lis, inner)
	if err != nil {
		return err
	}
	defer proxy.Stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, httpAddr, inner) }()
	fmt.Printf("bqemu: project %s dataset %s, REST on %s, gRPC on %s\n", *project, *dataset, httpAddr, grpcAddr)

	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		if err := srv.Stop(context.Background()); err != nil {
			return err
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
