package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TemplateBodyLimit is the largest template CloudFormation takes inline (TemplateBody); a larger
// one is uploaded to S3 and passed as TemplateURL.
const TemplateBodyLimit = 51200

// templateSource passes the template inline, or uploads it when it is too large.
func (d *Deployer) templateSource(ctx context.Context, s Stack) (body, url *string, err error) {
	if len(s.Template) <= TemplateBodyLimit {
		return aws.String(string(s.Template)), nil, nil
	}
	if d.S3 == nil || d.Bucket == "" {
		return nil, nil, &TemplateTooLargeError{Size: len(s.Template)}
	}
	key := path.Join(strings.Trim(d.Prefix, "/"), fmt.Sprintf("%s-%x.json", s.Name, sha256.Sum256(s.Template)))
	_, err = retry(ctx, d, func(ctx context.Context) (*s3.PutObjectOutput, error) {
		return d.S3.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(d.Bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(s.Template),
			ContentType: aws.String("application/json"),
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("upload the %d-byte template to s3://%s/%s: %w", len(s.Template), d.Bucket, key, cleanAPIError(err))
	}
	return nil, aws.String(s3URL(d.Bucket, d.Region, key)), nil
}

// s3URL is the virtual-hosted-style URL of an object, as CloudFormation's TemplateURL takes it.
func s3URL(bucket, region, key string) string {
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://%s.s3.%s.%s/%s", bucket, region, domain, key)
}

// TemplateParameters returns the names of a JSON template's Parameters, sorted.
func TemplateParameters(template []byte) ([]string, error) {
	var t struct {
		Parameters map[string]json.RawMessage
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("reading the template's parameters: %w", err)
	}
	names := make([]string, 0, len(t.Parameters))
	for k := range t.Parameters {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}
