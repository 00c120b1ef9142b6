package template

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/tags"
)

// network adds the VPC: two AZs with a public subnet each and, in the NAT modes, a private subnet
// each whose default route goes through the NAT instance or gateway; an S3 gateway endpoint (free;
// ECR serves image layers from S3) and the tasks' security group (no ingress). It returns the
// subnets the tasks run in.
func network(t *cloudformation.Template, cfg Config) ([]string, error) {
	subnets, err := subnetCIDRs(cfg.VPCCIDR)
	if err != nil {
		return nil, err
	}
	t.Resources[LogicalVPC] = &ec2.VPC{
		CidrBlock:          str(cfg.VPCCIDR),
		EnableDnsHostnames: boolp(true),
		EnableDnsSupport:   boolp(true),
		Tags:               nameTag("${AWS::StackName}"),
		AWSCloudFormationMetadata: suppress([2]string{"AwsSolutions-VPC7",
			"VPC flow logs are left to the account's own logging setup: they cost per GB ingested and this fleet idles at zero cost"}),
	}
	t.Resources[LogicalInternetGateway] = &ec2.InternetGateway{Tags: nameTag("${AWS::StackName}")}
	t.Resources[LogicalGatewayAttachment] = &ec2.VPCGatewayAttachment{
		VpcId:             ref(LogicalVPC),
		InternetGatewayId: str(ref(LogicalInternetGateway)),
	}
	t.Resources[LogicalPublicRouteTable] = &ec2.RouteTable{VpcId: ref(LogicalVPC), Tags: nameTag("${AWS::StackName}-public")}
	t.Resources[LogicalPublicDefaultRoute] = &ec2.Route{
		RouteTableId:               ref(LogicalPublicRouteTable),
		DestinationCidrBlock:       str("0.0.0.0/0"),
		GatewayId:                  str(ref(LogicalInternetGateway)),
		AWSCloudFormationDependsOn: []string{LogicalGatewayAttachment},
	}
	for i, id := range LogicalPublicSubnets {
		addSubnet(t, id, i, subnets[i], LogicalPublicRouteTable, "public")
	}
	routeTables := []string{LogicalPublicRouteTable}
	taskSubnets := LogicalPublicSubnets
	if cfg.Network != NetworkPublic {
		t.Resources[LogicalPrivateRouteTable] = &ec2.RouteTable{VpcId: ref(LogicalVPC), Tags: nameTag("${AWS::StackName}-private")}
		for i, id := range LogicalPrivateSubnets {
			addSubnet(t, id, i, subnets[2+i], LogicalPrivateRouteTable, "private")
		}
		route := &ec2.Route{RouteTableId: ref(LogicalPrivateRouteTable), DestinationCidrBlock: str("0.0.0.0/0")}
		if cfg.Network == NetworkNATInstance {
			natInstance(t, cfg)
			route.InstanceId = str(ref(LogicalNATInstance))
		} else {
			natGateway(t)
			route.NatGatewayId = str(ref(LogicalNATGateway))
		}
		t.Resources[LogicalPrivateDefaultRoute] = route
		routeTables = append(routeTables, LogicalPrivateRouteTable)
		taskSubnets = LogicalPrivateSubnets
	}
	tables := make([]string, len(routeTables))
	for i, id := range routeTables {
		tables[i] = ref(id)
	}
	t.Resources[LogicalS3Endpoint] = &ec2.VPCEndpoint{
		VpcId:           ref(LogicalVPC),
		ServiceName:     sub("com.amazonaws.${AWS::Region}.s3"),
		VpcEndpointType: str("Gateway"),
		RouteTableIds:   tables,
	}
	t.Resources[LogicalTaskSecurityGroup] = &ec2.SecurityGroup{
		// No egress rules written: a security group's default allows all outbound traffic (AWS APIs,
		// ECR and whatever the job calls).
		GroupDescription: "cfnbuild worker tasks: no inbound traffic; all outbound (the default)",
		VpcId:            str(ref(LogicalVPC)),
		Tags:             nameTag("${AWS::StackName}-tasks"),
	}
	return taskSubnets, nil
}

func addSubnet(t *cloudformation.Template, id string, az int, cidr netip.Prefix, routeTable, kind string) {
	t.Resources[id] = &ec2.Subnet{
		VpcId:            ref(LogicalVPC),
		CidrBlock:        str(cidr.String()),
		AvailabilityZone: str(cloudformation.Select(az, cloudformation.GetAZs(""))),
		Tags:             nameTag(fmt.Sprintf("${AWS::StackName}-%s-%d", kind, az+1)),
	}
	t.Resources[id+subnetRouteAssociationSuffix] = &ec2.SubnetRouteTableAssociation{
		SubnetId:     ref(id),
		RouteTableId: ref(routeTable),
	}
}

// subnetCIDRs cuts the VPC block into 4 equal blocks: public 1, public 2, private 1, private 2.
func subnetCIDRs(vpc string) ([]netip.Prefix, error) {
	p, err := netip.ParsePrefix(vpc)
	if err != nil {
		return nil, fmt.Errorf("vpc_cidr %q: %w", vpc, err)
	}
	bits := p.Bits() + 2
	size := uint32(1) << (32 - bits)
	base := p.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	out := make([]netip.Prefix, 4)
	for i := range out {
		a := start + uint32(i)*size
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits)
	}
	return out, nil
}

// natUserData turns Amazon Linux 2023 into a NAT: forward IPv4 and masquerade the VPC's traffic.
const natUserData = `#!/bin/bash
# cfnbuild NAT instance: forward and masquerade traffic from the VPC's private subnets.
set -euo pipefail
dnf install -y iptables-services
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-cfnbuild-nat.conf
sysctl --system
iface=$(ip route show default | awk '{print $5; exit}')
iptables -t nat -A POSTROUTING -o "$iface" -s %s -j MASQUERADE
iptables -F FORWARD
iptables-save > /etc/sysconfig/iptables
systemctl enable --now iptables
`

// gravitonRE matches instance types with a Graviton (arm64) CPU: a "g" among the letters after
// the generation digit (t4g, c7gn, m6gd, r8g).
var gravitonRE = regexp.MustCompile(`^[a-z]+\d+[a-z]*g[a-z]*\.`)

// NATInstanceArchitecture is the CPU architecture of an EC2 instance type, which picks the AMI.
func NATInstanceArchitecture(instanceType string) string {
	if gravitonRE.MatchString(instanceType) {
		return ArchARM
	}
	return ArchX86
}

func natInstance(t *cloudformation.Template, cfg Config) {
	amiPath := NATAMIParameterPathPrefix + NATInstanceArchitecture(cfg.NATInstanceType)
	t.Parameters[ParamNATInstanceAMI] = cloudformation.Parameter{
		Type:        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
		Default:     amiPath,
		Description: str("SSM public parameter of the NAT instance's Amazon Linux 2023 AMI (resolved at each deploy: a newer AMI replaces the instance)"),
	}
	t.Resources[LogicalNATSecurityGroup] = &ec2.SecurityGroup{
		GroupDescription: "cfnbuild NAT instance: inbound only from the VPC; outbound to the internet; no SSH",
		VpcId:            str(ref(LogicalVPC)),
		// Every TCP, UDP and ICMP flow from the VPC (rules per protocol rather than "-1", whose
		// ports cfn-lint flags and moto requires); outbound: the default allow-all.
		SecurityGroupIngress: []ec2.SecurityGroup_Ingress{
			{IpProtocol: "tcp", FromPort: intp(0), ToPort: intp(65535), CidrIp: str(cfg.VPCCIDR), Description: str("TCP to NAT from the VPC only")},
			{IpProtocol: "udp", FromPort: intp(0), ToPort: intp(65535), CidrIp: str(cfg.VPCCIDR), Description: str("UDP to NAT from the VPC only")},
			{IpProtocol: "icmp", FromPort: intp(-1), ToPort: intp(-1), CidrIp: str(cfg.VPCCIDR), Description: str("ICMP from the VPC only")},
		},
		Tags: nameTag("${AWS::StackName}-nat"),
	}
	inst := &ec2.Instance{
		ImageId:      str(ref(ParamNATInstanceAMI)),
		InstanceType: str(cfg.NATInstanceType),
		NetworkInterfaces: []ec2.Instance_NetworkInterface{{
			DeviceIndex:              "0",
			SubnetId:                 str(ref(LogicalPublicSubnets[0])),
			GroupSet:                 []string{ref(LogicalNATSecurityGroup)},
			AssociatePublicIpAddress: boolp(true),
			DeleteOnTermination:      boolp(true),
		}},
		SourceDestCheck: boolp(false),
		BlockDeviceMappings: []ec2.Instance_BlockDeviceMapping{{
			DeviceName: "/dev/xvda",
			// 8 GiB: the Amazon Linux 2023 AMI's root snapshot size (moto also insists on a size).
			Ebs: &ec2.Instance_Ebs{Encrypted: boolp(true), VolumeType: str("gp3"), VolumeSize: intp(8), DeleteOnTermination: boolp(true)},
		}},
		UserData:                   str(cloudformation.Base64(fmt.Sprintf(natUserData, cfg.VPCCIDR))),
		Tags:                       nameTag("${AWS::StackName}-nat"),
		AWSCloudFormationDependsOn: []string{LogicalGatewayAttachment},
		AWSCloudFormationMetadata: suppress(
			[2]string{"AwsSolutions-EC28", "detailed monitoring costs more than the nano NAT instance itself; basic 5-minute metrics suffice"},
			[2]string{"AwsSolutions-EC29", "the NAT instance is stateless and replaced by the stack; termination protection would block stack deletion"},
		),
	}
	if strings.HasPrefix(cfg.NATInstanceType, "t") {
		// Burstable types default to "unlimited" on some families: a runaway NAT must not bill surplus credits.
		inst.CreditSpecification = &ec2.Instance_CreditSpecification{CPUCredits: str("standard")}
	}
	t.Resources[LogicalNATInstance] = withProperties{inst, map[string]any{
		// goformation lacks the instance's MetadataOptions: require IMDSv2 tokens.
		"MetadataOptions": map[string]any{"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
	}}
}

func natGateway(t *cloudformation.Template) {
	t.Resources[LogicalNATGatewayEIP] = &ec2.EIP{
		Domain:                     str("vpc"),
		Tags:                       nameTag("${AWS::StackName}-nat"),
		AWSCloudFormationDependsOn: []string{LogicalGatewayAttachment},
	}
	t.Resources[LogicalNATGateway] = &ec2.NatGateway{
		SubnetId:     ref(LogicalPublicSubnets[0]),
		AllocationId: str(getAtt(LogicalNATGatewayEIP, "AllocationId")),
		Tags:         nameTag("${AWS::StackName}"),
	}
}

func nameTag(value string) []tags.Tag {
	return []tags.Tag{{Key: "Name", Value: sub(value)}}
}
