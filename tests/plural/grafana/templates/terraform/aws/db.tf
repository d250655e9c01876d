# Written for this port (Plural keeps the grafana terraform in
# pluralsh/scaffolds:catalogs/devops/grafana/terraform/aws/). Copied, as a folder, to
# terraform/apps/grafana and run by the grafana-{{ context.cluster }} stack: a small
# postgres database that grafana keeps its dashboards and users in.

data "aws_eks_cluster" "target" {
  name = var.cluster
}

resource "random_password" "postgres" {
  length  = 32
  special = false
}

resource "random_password" "admin" {
  length  = 24
  special = false
}

module "db" {
  source  = "terraform-aws-modules/rds/aws"
  version = "~> 6.0"

  identifier           = "grafana-{{ context.cluster }}"
  engine               = "postgres"
  engine_version       = "16"
  family               = "postgres16"
  instance_class       = var.instance_class
  allocated_storage    = 20
  db_name              = "grafana"
  username             = "grafana"
  password             = random_password.postgres.result
  manage_master_user_password = false

  vpc_security_group_ids = [data.aws_eks_cluster.target.vpc_config[0].cluster_security_group_id]
  subnet_ids             = data.aws_eks_cluster.target.vpc_config[0].subnet_ids
  create_db_subnet_group = true
}
