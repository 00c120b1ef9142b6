package deploytest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// Sim is a small in-memory CloudFormation. Templates are JSON with Parameters (Default),
// Resources (Type, Properties) and Outputs: a string, a Ref (a parameter's value, or
// PHYSICAL-<id> for a resource), a GetAtt (PHYSICAL-<id>.<attribute>); others are left out. A
// running operation advances one step — one event — per DescribeStacks call, so a caller that
// polls sees it in progress. Resources are created, updated and deleted one at a time, in the
// order of their logical IDs.
type Sim struct {
	// Fail makes the named resources fail to create, update or delete, with the reason.
	Fail map[string]string
	// ChangeSetPolls is how many DescribeChangeSet calls see a new change set CREATE_PENDING.
	ChangeSetPolls int
	// EventPageSize and ChangesPageSize are how many items a page holds (defaults 4 and all).
	EventPageSize, ChangesPageSize int
	// NoUpdatesError makes CreateChangeSet refuse an empty update with ValidationError "No updates
	// are to be performed." (as moto does) instead of creating a FAILED change set (as AWS does).
	NoUpdatesError bool

	mu         sync.Mutex
	stacks     map[string]*simStack // live stacks by name
	byID       map[string]*simStack // every stack, deleted ones too
	changeSets map[string]*simChangeSet
	seq        int
}

// NewSim returns an empty Sim.
func NewSim() *Sim {
	return &Sim{stacks: map[string]*simStack{}, byID: map[string]*simStack{}, changeSets: map[string]*simChangeSet{}}
}

// SimStack is a stack's state, for assertions.
type SimStack struct {
	Name, ID, Status string
	Template         string
	Parameters       map[string]string
	Tags             map[string]string
	Capabilities     []string
	Outputs          map[string]string
}

type simStack struct {
	SimStack
	resources map[string]simResource // logical ID -> resource
	events    []types.StackEvent     // oldest first
	steps     []func()               // the running operation, one step per DescribeStacks
}

type simResource struct {
	Type  string
	Props string // JSON with parameter Refs resolved
}

type simChangeSet struct {
	arn, name, stackID, typ string
	status                  types.ChangeSetStatus
	reason                  string
	polls                   int
	changes                 []types.Change
	template                string
	params                  map[string]string
	tags                    map[string]string
	caps                    []string
}

// Fake returns a Fake backed by the Sim. Tests may replace its func fields to inject errors,
// calling the Sim's own through the returned Fake's original fields.
func (s *Sim) Fake() *Fake {
	return &Fake{
		CreateChangeSetFunc:     s.createChangeSet,
		DescribeChangeSetFunc:   s.describeChangeSet,
		ExecuteChangeSetFunc:    s.executeChangeSet,
		DeleteChangeSetFunc:     s.deleteChangeSet,
		DescribeStacksFunc:      s.describeStacks,
		DescribeStackEventsFunc: s.describeStackEvents,
		DeleteStackFunc:         s.deleteStack,
		CancelUpdateStackFunc:   s.cancelUpdateStack,
	}
}

// Stack returns the live stack named name.
func (s *Sim) Stack(name string) (SimStack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stacks[name]
	if !ok {
		return SimStack{}, false
	}
	return st.SimStack, true
}

// Seed adds a stack in want.Status, made from want.Template with want.Parameters (defaults
// filled in) and want.Tags, with a history of one event per resource and one for the stack.
func (s *Sim) Seed(want SimStack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.newStack(want.Name)
	st.Status, st.Tags, st.Capabilities = want.Status, want.Tags, want.Capabilities
	if st.Tags == nil {
		st.Tags = map[string]string{}
	}
	t, err := parseTemplate(want.Template)
	if err != nil {
		panic(err)
	}
	values, err := t.values(want.Parameters, nil, nil)
	if err != nil {
		panic(err)
	}
	st.Template, st.Parameters, st.resources = want.Template, values, t.resolve(values)
	for _, id := range slices.Sorted(maps.Keys(st.resources)) {
		s.event(st, id, st.resources[id].Type, "CREATE_COMPLETE", "")
	}
	s.event(st, want.Name, stackType, want.Status, "")
	if !strings.HasPrefix(want.Status, "ROLLBACK") {
		st.Outputs = t.outputs(values)
	}
}

// SetStatus sets a stack's status, as if another operation had started or ended.
func (s *Sim) SetStatus(name, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stacks[name]
	st.Status = status
	s.event(st, name, stackType, status, "User Initiated")
}

const stackType = "AWS::CloudFormation::Stack"

func (s *Sim) newStack(name string) *simStack {
	s.seq++
	st := &simStack{SimStack: SimStack{Name: name, ID: fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:stack/%s/%d", name, s.seq)}, resources: map[string]simResource{}}
	s.stacks[name], s.byID[st.ID] = st, st
	return st
}

func (s *Sim) event(st *simStack, logicalID, typ, status, reason string) {
	s.seq++
	e := types.StackEvent{
		EventId:           aws.String(fmt.Sprintf("%s-%d", st.Name, s.seq)),
		StackId:           aws.String(st.ID),
		StackName:         aws.String(st.Name),
		LogicalResourceId: aws.String(logicalID),
		ResourceType:      aws.String(typ),
		ResourceStatus:    types.ResourceStatus(status),
		Timestamp:         aws.Time(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s.seq) * time.Second)),
	}
	if reason != "" {
		e.ResourceStatusReason = aws.String(reason)
	}
	if logicalID == st.Name {
		e.PhysicalResourceId = aws.String(st.ID)
	} else {
		e.PhysicalResourceId = aws.String(physicalID(st.Name, logicalID))
	}
	st.events = append(st.events, e)
}

func physicalID(stack, logicalID string) string { return stack + "-" + logicalID + "-PHYSICAL" }

func (s *Sim) find(nameOrID string) (*simStack, error) {
	if st, ok := s.stacks[nameOrID]; ok {
		return st, nil
	}
	if st, ok := s.byID[nameOrID]; ok {
		return st, nil
	}
	return nil, APIError("ValidationError", fmt.Sprintf("Stack with id %s does not exist", nameOrID))
}

func inProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

func (s *Sim) createChangeSet(_ context.Context, in *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, typ := aws.ToString(in.StackName), string(in.ChangeSetType)
	if typ == "" {
		typ = "UPDATE"
	}
	st := s.stacks[name]
	switch {
	case typ == "CREATE" && st != nil && st.Status != "REVIEW_IN_PROGRESS":
		return nil, APIError("ValidationError", fmt.Sprintf("Stack [%s] already exists and cannot be created again with the changeSet [%s].", name, aws.ToString(in.ChangeSetName)))
	case typ == "UPDATE" && (st == nil || st.Status == "REVIEW_IN_PROGRESS"):
		return nil, APIError("ValidationError", fmt.Sprintf("Stack [%s] does not exist", name))
	case st != nil && inProgress(st.Status):
		return nil, APIError("ValidationError", fmt.Sprintf("Stack:%s is in %s state and can not be updated.", st.ID, st.Status))
	}
	body := aws.ToString(in.TemplateBody)
	if in.TemplateURL != nil {
		return nil, APIError("ValidationError", "deploytest.Sim does not read TemplateURL")
	}
	t, err := parseTemplate(body)
	if err != nil {
		return nil, APIError("ValidationError", "Template format error: "+err.Error())
	}
	var previous map[string]string
	if st != nil {
		previous = st.Parameters
	}
	values, err := t.values(nil, in.Parameters, previous)
	if err != nil {
		return nil, err
	}
	caps := make([]string, 0, len(in.Capabilities))
	for _, c := range in.Capabilities {
		caps = append(caps, string(c))
	}
	if t.needsIAM() && !slices.Contains(caps, "CAPABILITY_IAM") && !slices.Contains(caps, "CAPABILITY_NAMED_IAM") {
		return nil, APIError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
	}
	tags := map[string]string{}
	for _, tg := range in.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	newResources := t.resolve(values)
	var changes []types.Change
	if st == nil || st.Status == "REVIEW_IN_PROGRESS" {
		for _, id := range slices.Sorted(maps.Keys(newResources)) {
			changes = append(changes, change("Add", id, newResources[id].Type, ""))
		}
	} else {
		for _, id := range slices.Sorted(maps.Keys(newResources)) {
			old, ok := st.resources[id]
			switch {
			case !ok:
				changes = append(changes, change("Add", id, newResources[id].Type, ""))
			case old != newResources[id]:
				changes = append(changes, change("Modify", id, newResources[id].Type, "False"))
			}
		}
		for _, id := range slices.Sorted(maps.Keys(st.resources)) {
			if _, ok := newResources[id]; !ok {
				changes = append(changes, change("Remove", id, st.resources[id].Type, ""))
			}
		}
	}
	empty := st != nil && st.Status != "REVIEW_IN_PROGRESS" && st.Template == body && reflect.DeepEqual(st.Parameters, values) && reflect.DeepEqual(st.Tags, tags)
	if empty && s.NoUpdatesError {
		return nil, APIError("ValidationError", "No updates are to be performed.")
	}
	if st == nil {
		st = s.newStack(name)
		st.Status = "REVIEW_IN_PROGRESS"
		s.event(st, name, stackType, "REVIEW_IN_PROGRESS", "User Initiated")
	}
	s.seq++
	cs := &simChangeSet{
		arn:  fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:changeSet/%s/%d", aws.ToString(in.ChangeSetName), s.seq),
		name: aws.ToString(in.ChangeSetName), stackID: st.ID, typ: typ,
		status: types.ChangeSetStatusCreatePending, changes: changes,
		template: body, params: values, tags: tags, caps: caps,
	}
	if empty {
		cs.reason = "The submitted information didn't contain changes. Submit different information to create a change set."
	}
	s.changeSets[cs.arn] = cs
	return &cloudformation.CreateChangeSetOutput{Id: aws.String(cs.arn), StackId: aws.String(st.ID)}, nil
}

func change(action, id, typ, replacement string) types.Change {
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeAction(action), LogicalResourceId: aws.String(id), ResourceType: aws.String(typ),
		Replacement: types.Replacement(replacement),
	}}
}

func (s *Sim) findChangeSet(nameOrARN, stack string) (*simChangeSet, error) {
	if cs, ok := s.changeSets[nameOrARN]; ok {
		return cs, nil
	}
	for _, cs := range s.changeSets {
		if st := s.byID[cs.stackID]; cs.name == nameOrARN && st != nil && (st.Name == stack || st.ID == stack) {
			return cs, nil
		}
	}
	return nil, APIError("ChangeSetNotFound", fmt.Sprintf("ChangeSet [%s] does not exist", nameOrARN))
}

func (s *Sim) describeChangeSet(_ context.Context, in *cloudformation.DescribeChangeSetInput) (*cloudformation.DescribeChangeSetOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := s.findChangeSet(aws.ToString(in.ChangeSetName), aws.ToString(in.StackName))
	if err != nil {
		return nil, err
	}
	if cs.status == types.ChangeSetStatusCreatePending {
		if cs.polls++; cs.polls > s.ChangeSetPolls {
			cs.status = types.ChangeSetStatusCreateComplete
			if cs.reason != "" {
				cs.status = types.ChangeSetStatusFailed
			}
		}
	}
	st := s.byID[cs.stackID]
	out := &cloudformation.DescribeChangeSetOutput{
		ChangeSetId: aws.String(cs.arn), ChangeSetName: aws.String(cs.name),
		StackId: aws.String(st.ID), StackName: aws.String(st.Name),
		Status: cs.status, ExecutionStatus: types.ExecutionStatusUnavailable,
	}
	if cs.reason != "" && cs.status == types.ChangeSetStatusFailed {
		out.StatusReason = aws.String(cs.reason)
	}
	if cs.status != types.ChangeSetStatusCreateComplete {
		return out, nil
	}
	out.ExecutionStatus = types.ExecutionStatusAvailable
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	end := len(cs.changes)
	if s.ChangesPageSize > 0 && start+s.ChangesPageSize < end {
		end = start + s.ChangesPageSize
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	out.Changes = cs.changes[start:end]
	return out, nil
}

func (s *Sim) deleteChangeSet(_ context.Context, in *cloudformation.DeleteChangeSetInput) (*cloudformation.DeleteChangeSetOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := s.findChangeSet(aws.ToString(in.ChangeSetName), aws.ToString(in.StackName))
	if err != nil {
		return nil, err
	}
	delete(s.changeSets, cs.arn)
	return &cloudformation.DeleteChangeSetOutput{}, nil
}

func (s *Sim) executeChangeSet(_ context.Context, in *cloudformation.ExecuteChangeSetInput) (*cloudformation.ExecuteChangeSetOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := s.findChangeSet(aws.ToString(in.ChangeSetName), aws.ToString(in.StackName))
	if err != nil {
		return nil, err
	}
	st := s.byID[cs.stackID]
	if inProgress(st.Status) {
		return nil, APIError("ValidationError", fmt.Sprintf("Stack:%s is in %s state and can not be updated.", st.ID, st.Status))
	}
	if cs.status != types.ChangeSetStatusCreateComplete {
		return nil, APIError("InvalidChangeSetStatus", fmt.Sprintf("ChangeSet [%s] cannot be executed in its current status of [%s]", cs.arn, cs.status))
	}
	delete(s.changeSets, cs.arn)
	t, _ := parseTemplate(cs.template)
	next := t.resolve(cs.params)
	if cs.typ == "CREATE" {
		s.runCreate(st, cs, t, next)
	} else {
		s.runUpdate(st, cs, t, next)
	}
	return &cloudformation.ExecuteChangeSetOutput{}, nil
}

// runCreate queues a create's steps: the resources one by one, then CREATE_COMPLETE; or, when one
// fails, the next one cancelled and a rollback to ROLLBACK_COMPLETE.
func (s *Sim) runCreate(st *simStack, cs *simChangeSet, t *simTemplate, next map[string]simResource) {
	st.Status = "CREATE_IN_PROGRESS"
	st.Tags, st.Capabilities, st.Parameters = cs.tags, cs.caps, cs.params
	s.event(st, st.Name, stackType, "CREATE_IN_PROGRESS", "User Initiated")
	ids := slices.Sorted(maps.Keys(next))
	var steps []func()
	for i, id := range ids {
		typ := next[id].Type
		steps = append(steps, func() { s.event(st, id, typ, "CREATE_IN_PROGRESS", "") })
		if reason, fail := s.Fail[id]; fail {
			steps = append(steps, func() { s.event(st, id, typ, "CREATE_FAILED", reason) })
			if i+1 < len(ids) {
				nid := ids[i+1]
				steps = append(steps, func() { s.event(st, nid, next[nid].Type, "CREATE_FAILED", "Resource creation cancelled") })
			}
			steps = append(steps, func() {
				st.Status = "ROLLBACK_IN_PROGRESS"
				s.event(st, st.Name, stackType, st.Status, fmt.Sprintf("The following resource(s) failed to create: [%s]. Rollback requested by user.", id))
			})
			for j := i; j >= 0; j-- {
				rid := ids[j]
				steps = append(steps, func() { s.event(st, rid, next[rid].Type, "DELETE_COMPLETE", "") })
			}
			steps = append(steps, func() {
				st.Status = "ROLLBACK_COMPLETE"
				s.event(st, st.Name, stackType, st.Status, "")
			})
			st.steps = steps
			return
		}
		steps = append(steps, func() {
			st.resources[id] = next[id]
			s.event(st, id, typ, "CREATE_COMPLETE", "")
		})
	}
	steps = append(steps, func() {
		st.Status, st.Template, st.Outputs = "CREATE_COMPLETE", cs.template, t.outputs(cs.params)
		s.event(st, st.Name, stackType, st.Status, "")
	})
	st.steps = steps
}

// runUpdate queues an update's steps: added and modified resources, then removed ones in the
// cleanup; or, when one fails, a rollback to UPDATE_ROLLBACK_COMPLETE.
func (s *Sim) runUpdate(st *simStack, cs *simChangeSet, t *simTemplate, next map[string]simResource) {
	st.Status = "UPDATE_IN_PROGRESS"
	s.event(st, st.Name, stackType, st.Status, "User Initiated")
	var steps []func()
	for _, id := range slices.Sorted(maps.Keys(next)) {
		old, existed := st.resources[id]
		if existed && old == next[id] {
			continue
		}
		verb := "UPDATE"
		if !existed {
			verb = "CREATE"
		}
		typ := next[id].Type
		steps = append(steps, func() { s.event(st, id, typ, verb+"_IN_PROGRESS", "") })
		if reason, fail := s.Fail[id]; fail {
			steps = append(steps, func() { s.event(st, id, typ, verb+"_FAILED", reason) })
			steps = append(steps, s.rollbackSteps(st, id)...)
			st.steps = steps
			return
		}
		steps = append(steps, func() { s.event(st, id, typ, verb+"_COMPLETE", "") })
	}
	steps = append(steps, func() {
		st.Status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
		s.event(st, st.Name, stackType, st.Status, "")
	})
	for _, id := range slices.Sorted(maps.Keys(st.resources)) {
		if _, ok := next[id]; !ok {
			typ := st.resources[id].Type
			steps = append(steps, func() { s.event(st, id, typ, "DELETE_COMPLETE", "") })
		}
	}
	steps = append(steps, func() {
		st.Status, st.Template, st.Parameters, st.Tags, st.Capabilities = "UPDATE_COMPLETE", cs.template, cs.params, cs.tags, cs.caps
		st.resources, st.Outputs = next, t.outputs(cs.params)
		s.event(st, st.Name, stackType, st.Status, "")
	})
	st.steps = steps
}

func (s *Sim) rollbackSteps(st *simStack, failed string) []func() {
	return []func(){
		func() {
			st.Status = "UPDATE_ROLLBACK_IN_PROGRESS"
			s.event(st, st.Name, stackType, st.Status, fmt.Sprintf("The following resource(s) failed to update: [%s].", failed))
		},
		func() {
			st.Status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
			s.event(st, st.Name, stackType, st.Status, "")
		},
		func() {
			st.Status = "UPDATE_ROLLBACK_COMPLETE"
			s.event(st, st.Name, stackType, st.Status, "")
		},
	}
}

func (s *Sim) cancelUpdateStack(_ context.Context, in *cloudformation.CancelUpdateStackInput) (*cloudformation.CancelUpdateStackOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.find(aws.ToString(in.StackName))
	if err != nil {
		return nil, err
	}
	if st.Status != "UPDATE_IN_PROGRESS" {
		return nil, APIError("ValidationError", fmt.Sprintf("CancelUpdateStack cannot be called from current stack status: %s", st.Status))
	}
	st.steps = append([]func(){func() {
		s.event(st, st.Name, stackType, "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled")
		st.Status = "UPDATE_ROLLBACK_IN_PROGRESS"
	}}, s.rollbackSteps(st, "")[1:]...)
	return &cloudformation.CancelUpdateStackOutput{}, nil
}

func (s *Sim) deleteStack(_ context.Context, in *cloudformation.DeleteStackInput) (*cloudformation.DeleteStackOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.find(aws.ToString(in.StackName))
	if err != nil {
		if strings.HasPrefix(aws.ToString(in.StackName), "arn:") {
			return nil, err
		}
		return &cloudformation.DeleteStackOutput{}, nil // deleting a stack that is not there succeeds
	}
	if st.Status == "DELETE_COMPLETE" || st.Status == "DELETE_IN_PROGRESS" {
		return &cloudformation.DeleteStackOutput{}, nil
	}
	if strings.HasPrefix(st.Status, "UPDATE_") && inProgress(st.Status) {
		return nil, APIError("ValidationError", fmt.Sprintf("Stack [%s] cannot be deleted while in status %s", st.Name, st.Status))
	}
	gone := func() {
		st.Status = "DELETE_COMPLETE"
		s.event(st, st.Name, stackType, st.Status, "")
		delete(s.stacks, st.Name)
		for arn, cs := range s.changeSets {
			if cs.stackID == st.ID {
				delete(s.changeSets, arn)
			}
		}
	}
	if st.Status == "REVIEW_IN_PROGRESS" {
		gone()
		return &cloudformation.DeleteStackOutput{}, nil
	}
	st.Status, st.steps = "DELETE_IN_PROGRESS", nil
	s.event(st, st.Name, stackType, st.Status, "User Initiated")
	ids := slices.Sorted(maps.Keys(st.resources))
	for i := len(ids) - 1; i >= 0; i-- {
		id, typ := ids[i], st.resources[ids[i]].Type
		st.steps = append(st.steps, func() { s.event(st, id, typ, "DELETE_IN_PROGRESS", "") })
		if reason, fail := s.Fail[id]; fail {
			st.steps = append(st.steps, func() { s.event(st, id, typ, "DELETE_FAILED", reason) }, func() {
				st.Status = "DELETE_FAILED"
				s.event(st, st.Name, stackType, st.Status, fmt.Sprintf("The following resource(s) failed to delete: [%s].", id))
			})
			return &cloudformation.DeleteStackOutput{}, nil
		}
		st.steps = append(st.steps, func() {
			delete(st.resources, id)
			s.event(st, id, typ, "DELETE_COMPLETE", "")
		})
	}
	st.steps = append(st.steps, gone)
	return &cloudformation.DeleteStackOutput{}, nil
}

func (s *Sim) describeStacks(_ context.Context, in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.find(aws.ToString(in.StackName))
	if err != nil {
		return nil, err
	}
	if len(st.steps) > 0 {
		step := st.steps[0]
		st.steps = st.steps[1:]
		step()
	}
	out := types.Stack{StackName: aws.String(st.Name), StackId: aws.String(st.ID), StackStatus: types.StackStatus(st.Status)}
	for _, k := range slices.Sorted(maps.Keys(st.Outputs)) {
		out.Outputs = append(out.Outputs, types.Output{OutputKey: aws.String(k), OutputValue: aws.String(st.Outputs[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(st.Parameters)) {
		out.Parameters = append(out.Parameters, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(st.Parameters[k])})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{out}}, nil
}

func (s *Sim) describeStackEvents(_ context.Context, in *cloudformation.DescribeStackEventsInput) (*cloudformation.DescribeStackEventsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.find(aws.ToString(in.StackName))
	if err != nil {
		return nil, err
	}
	size := s.EventPageSize
	if size <= 0 {
		size = 4
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	out := &cloudformation.DescribeStackEventsOutput{}
	for i := len(st.events) - 1 - start; i >= 0 && len(out.StackEvents) < size; i-- {
		out.StackEvents = append(out.StackEvents, st.events[i])
	}
	if start+size < len(st.events) {
		out.NextToken = aws.String(strconv.Itoa(start + size))
	}
	return out, nil
}

// simTemplate is the part of a template the Sim reads.
type simTemplate struct {
	Parameters map[string]struct {
		Default any // a string, or a json.Number
	}
	Resources map[string]struct {
		Type       string
		Properties json.RawMessage
	}
	Outputs map[string]struct {
		Value any
	}
}

func parseTemplate(body string) (*simTemplate, error) {
	var t simTemplate
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	return &t, nil
}

// values resolves every parameter: given (as a map or as the API's list), previous, or default.
func (t *simTemplate) values(given map[string]string, list []types.Parameter, previous map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range given {
		out[k] = v
	}
	for _, p := range list {
		k := aws.ToString(p.ParameterKey)
		if _, ok := t.Parameters[k]; !ok {
			return nil, APIError("ValidationError", fmt.Sprintf("Parameters: [%s] do not exist in the template", k))
		}
		if aws.ToBool(p.UsePreviousValue) {
			v, ok := previous[k]
			if !ok {
				return nil, APIError("ValidationError", fmt.Sprintf("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", k))
			}
			out[k] = v
			continue
		}
		out[k] = aws.ToString(p.ParameterValue)
	}
	var missing []string
	for _, k := range slices.Sorted(maps.Keys(t.Parameters)) {
		if _, ok := out[k]; ok {
			continue
		}
		if d := t.Parameters[k].Default; d != nil {
			out[k] = fmt.Sprint(d)
			continue
		}
		missing = append(missing, k)
	}
	if len(missing) > 0 {
		return nil, APIError("ValidationError", fmt.Sprintf("Parameters: [%s] must have values", strings.Join(missing, ", ")))
	}
	return out, nil
}

// resolve renders each resource's properties with the parameters' values in place of their Refs.
func (t *simTemplate) resolve(values map[string]string) map[string]simResource {
	out := map[string]simResource{}
	for id, r := range t.Resources {
		props := string(r.Properties)
		for k, v := range values {
			ref, _ := json.Marshal(map[string]string{"Ref": k})
			val, _ := json.Marshal(v)
			props = strings.ReplaceAll(props, string(ref), string(val))
		}
		out[id] = simResource{Type: r.Type, Props: props}
	}
	return out
}

func (t *simTemplate) outputs(values map[string]string) map[string]string {
	out := map[string]string{}
	for k, o := range t.Outputs {
		switch v := o.Value.(type) {
		case string:
			out[k] = v
		case map[string]any:
			if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) == 2 {
				out[k] = fmt.Sprintf("PHYSICAL-%v.%v", att[0], att[1])
				continue
			}
			ref, ok := v["Ref"].(string)
			if !ok {
				continue // other intrinsics: no output
			}
			if pv, ok := values[ref]; ok {
				out[k] = pv
			} else {
				out[k] = "PHYSICAL-" + ref
			}
		}
	}
	return out
}

func (t *simTemplate) needsIAM() bool {
	for _, r := range t.Resources {
		if strings.HasPrefix(r.Type, "AWS::IAM::") {
			return true
		}
	}
	return false
}
