package template

import (
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/applicationautoscaling"
	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
)

// Scaling: the service's task count is owned by Application Auto Scaling, driven by two alarms
// over 60-second periods. There is no CPU policy: a busy task is working, not overloaded.
//
//   - Scale out when visible messages + API requests >= 1. SQS stops publishing metrics for a
//     queue idle for 6 hours and resumes them up to 15 minutes late; API Gateway's request count
//     arrives within a minute, so the first job does not wait for SQS's metrics. Steps add more
//     tasks for a deeper backlog.
//   - Scale in to exactly 0 only when visible + in-flight messages (and API requests) stayed at 0
//     for ScaleInDelay minutes: a task holding a message in flight is never stopped by scaling.
//     Missing data counts as idle (an idle queue publishes none); the worker's ECS task scale-in
//     protection covers a job whose metrics are late.

// ScaleOutCooldown is long enough for a Fargate task to pull its image and start polling.
const ScaleOutCooldown = 120

// ScaleOutSteps are the scale-out policy's steps: tasks added when the backlog (visible messages
// + API requests in a minute) is at least Backlog, until the next step's Backlog.
var ScaleOutSteps = []struct{ Backlog, Add int }{{1, 1}, {10, 3}, {100, 10}}

const (
	metricVisible  = "visible"
	metricInFlight = "inflight"
	metricRequests = "requests"
)

func scaling(t *cloudformation.Template) {
	t.Resources[LogicalScalableTarget] = withProperties{&applicationautoscaling.ScalableTarget{
		ServiceNamespace:  "ecs",
		ScalableDimension: "ecs:service:DesiredCount",
		ResourceId:        sub("service/${" + LogicalCluster + "}/${" + LogicalService + ".Name}"),
		MinCapacity:       0,
	}, map[string]any{"MaxCapacity": ref(ParamMaxTasks)}}

	steps := make([]applicationautoscaling.ScalingPolicy_StepAdjustment, len(ScaleOutSteps))
	for i, s := range ScaleOutSteps {
		// Bounds are relative to the alarm's threshold (1).
		steps[i] = applicationautoscaling.ScalingPolicy_StepAdjustment{
			MetricIntervalLowerBound: float(float64(s.Backlog - 1)),
			ScalingAdjustment:        s.Add,
		}
		if i+1 < len(ScaleOutSteps) {
			steps[i].MetricIntervalUpperBound = float(float64(ScaleOutSteps[i+1].Backlog - 1))
		}
	}
	t.Resources[LogicalScaleOutPolicy] = &applicationautoscaling.ScalingPolicy{
		PolicyName:      "scale-out-on-backlog",
		PolicyType:      "StepScaling",
		ScalingTargetId: str(ref(LogicalScalableTarget)),
		StepScalingPolicyConfiguration: &applicationautoscaling.ScalingPolicy_StepScalingPolicyConfiguration{
			AdjustmentType:        str("ChangeInCapacity"),
			Cooldown:              intp(ScaleOutCooldown),
			MetricAggregationType: str("Maximum"),
			StepAdjustments:       steps,
		},
	}
	t.Resources[LogicalScaleOutAlarm] = &cloudwatch.Alarm{
		AlarmDescription: str("jobs are waiting (visible messages) or arriving (API requests): add tasks"),
		Metrics: []cloudwatch.Alarm_MetricDataQuery{
			queueMetric(metricVisible, "ApproximateNumberOfMessagesVisible"),
			apiRequestsMetric(),
			expression("FILL("+metricVisible+", 0) + FILL("+metricRequests+", 0)", "visible messages + API requests"),
		},
		ComparisonOperator: "GreaterThanOrEqualToThreshold",
		Threshold:          float(1),
		EvaluationPeriods:  1,
		DatapointsToAlarm:  intp(1),
		TreatMissingData:   str("notBreaching"),
		AlarmActions:       []string{ref(LogicalScaleOutPolicy)},
	}

	t.Resources[LogicalScaleInPolicy] = &applicationautoscaling.ScalingPolicy{
		PolicyName:      "scale-in-to-zero-when-idle",
		PolicyType:      "StepScaling",
		ScalingTargetId: str(ref(LogicalScalableTarget)),
		StepScalingPolicyConfiguration: &applicationautoscaling.ScalingPolicy_StepScalingPolicyConfiguration{
			AdjustmentType:        str("ExactCapacity"),
			Cooldown:              intp(MetricPeriod),
			MetricAggregationType: str("Maximum"),
			StepAdjustments: []applicationautoscaling.ScalingPolicy_StepAdjustment{{
				MetricIntervalUpperBound: float(0),
				ScalingAdjustment:        0,
			}},
		},
	}
	t.Resources[LogicalScaleInAlarm] = withProperties{&cloudwatch.Alarm{
		AlarmDescription: str("no job waiting, running or arriving for ScaleInDelay minutes: scale to zero"),
		Metrics: []cloudwatch.Alarm_MetricDataQuery{
			queueMetric(metricVisible, "ApproximateNumberOfMessagesVisible"),
			queueMetric(metricInFlight, "ApproximateNumberOfMessagesNotVisible"),
			apiRequestsMetric(),
			expression("FILL("+metricVisible+", 0) + FILL("+metricInFlight+", 0) + FILL("+metricRequests+", 0)",
				"visible + in-flight messages + API requests"),
		},
		ComparisonOperator: "LessThanOrEqualToThreshold",
		Threshold:          float(0),
		TreatMissingData:   str("breaching"),
		AlarmActions:       []string{ref(LogicalScaleInPolicy)},
	}, map[string]any{
		"EvaluationPeriods": ref(ParamScaleInDelay),
		"DatapointsToAlarm": ref(ParamScaleInDelay),
	}}
}

func queueMetric(id, name string) cloudwatch.Alarm_MetricDataQuery {
	return cloudwatch.Alarm_MetricDataQuery{
		Id:         id,
		ReturnData: boolp(false),
		MetricStat: &cloudwatch.Alarm_MetricStat{
			Metric: &cloudwatch.Alarm_Metric{
				Namespace:  str("AWS/SQS"),
				MetricName: str(name),
				Dimensions: []cloudwatch.Alarm_Dimension{{Name: "QueueName", Value: getAtt(LogicalJobsQueue, "QueueName")}},
			},
			Period: MetricPeriod,
			Stat:   "Maximum",
		},
	}
}

func apiRequestsMetric() cloudwatch.Alarm_MetricDataQuery {
	return cloudwatch.Alarm_MetricDataQuery{
		Id:         metricRequests,
		ReturnData: boolp(false),
		MetricStat: &cloudwatch.Alarm_MetricStat{
			Metric: &cloudwatch.Alarm_Metric{
				Namespace:  str("AWS/ApiGateway"),
				MetricName: str("Count"),
				Dimensions: []cloudwatch.Alarm_Dimension{
					{Name: "ApiName", Value: sub("${AWS::StackName}")},
					{Name: "Stage", Value: StageName},
				},
			},
			Period: MetricPeriod,
			Stat:   "Sum",
		},
	}
}

func expression(expr, label string) cloudwatch.Alarm_MetricDataQuery {
	return cloudwatch.Alarm_MetricDataQuery{Id: "backlog", Expression: str(expr), Label: str(label), ReturnData: boolp(true)}
}
