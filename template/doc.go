// Package template renders cfnbuild's architecture as plain CloudFormation, with goformation.
//
// It is pure: a Config in, a *cloudformation.Template out; no AWS SDK, flags, environment, clock
// or randomness, so the same Config always renders the same bytes (golden files hold that).
// Two stacks come out of it:
//
//   - the main stack (Build): network (network.go), queue + DLQ (queue.go), REST API (api.go),
//     ECS Fargate cluster, task definition and service (service.go), step scaling (scaling.go);
//   - the image-repository stack (BuildRepository, repository.go), deployed first because the
//     main stack refers to the worker image by digest.
//
// Values a reviewer may change in the console (image URI, max tasks, cpu, memory, job timeout,
// max receive count, scale-in delay, desired count) are Parameters whose defaults come from the
// Config; everything else is structure. Logical IDs, parameter and output names are exported
// constants. goformation holds intrinsic functions as opaque strings until rendering, so tests
// parse the rendered template back and assert on that.
package template
