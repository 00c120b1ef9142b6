package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

func TestAPICallsCountsOperationsAndAttempts(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried by the SDK
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks/></DescribeStacksResult></DescribeStacksResponse>`))
	}))
	defer srv.Close()

	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	calls := &apiCalls{}
	calls.register(&cfg)
	client := cloudformation.NewFromConfig(cfg)
	for range 2 {
		if _, err := client.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	calls.write(&b)
	want := "AWS API calls: 2 (HTTP requests: 3)\n  CloudFormation.DescribeStacks            2\n"
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}
