"""The Cost Sentry dashboard: Bedrock spend by tenant, model and principal, as cid-cmd resources.

One place generates the three pieces cid-cmd deploys (`cid-cmd deploy --resources FILE --dashboard-id
cost-sentry-bedrock`), in the format of its own resources.yaml:
- the Athena view `cost_sentry_bedrock_spend`: `sql/bedrock_spend_daily.sql` of the reports (the same
  Bedrock lines, tags and model parsing the chargeback uses) over the CUR 2.0 table, `${cur2_database}` and
  `${cur2_table_name}` filled in by cid-cmd, with the tenant resolved as the chargeback resolves it;
- the QuickSight dataset over that view (SPICE, refreshed on cid-cmd's default schedule);
- the dashboard's QuickSight definition: total spend, spend by tenant and model, daily spend by tenant,
  spend by cost center, and the table of tenant x user x principal x model.
"""

from __future__ import annotations

from typing import Any

from scripts.cli.reports import queries
from scripts.cli.reports.tenants import TenantDirectory

DASHBOARD_ID = "cost-sentry-bedrock"
DASHBOARD_NAME = "Cost Sentry: Bedrock spend by tenant, model and principal"
VIEW = "cost_sentry_bedrock_spend"  # the Athena view, the dataset's name and its identifier in the dashboard
DATASET_ID = "cost-sentry-bedrock-spend"
# cid-cmd's placeholders for the CUR 2.0 table it found (its get_view_query / create_or_update_dataset)
CUR_TABLE = '"${cur2_database}"."${cur2_table_name}"'

# The view's columns and their QuickSight types: the contract between the SQL and the definition.
COLUMNS = {
    "usage_date": "DATETIME",
    "tenant": "STRING",
    "cost_center": "STRING",
    "application_id": "STRING",
    "environment": "STRING",
    "principal": "STRING",
    "user_name": "STRING",
    "model": "STRING",
    "token_direction": "STRING",
    "cost_usd": "DECIMAL",
    "tokens": "INTEGER",
}
# The CUR 2.0 columns the view reads (cid-cmd checks them before it creates the view).
CUR_COLUMNS = [
    "line_item_iam_principal",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_resource_id",
    "line_item_unblended_cost",
    "line_item_usage_amount",
    "line_item_usage_start_date",
    "line_item_usage_type",
    "pricing_unit",
    "resource_tags",
]


def view_select(directory: TenantDirectory, dialect: queries.Dialect) -> str:
    """The view's SELECT for one engine (Athena in the account; DuckDB over a CUR copy in the tests)."""
    return queries.render(
        "bedrock_spend_daily", dialect, tenant=directory.sql_resolve("application_id", "role_name")
    )


def view_sql(directory: TenantDirectory) -> str:
    select = view_select(directory, queries.Dialect(name="athena", cur_table=CUR_TABLE))
    return f"CREATE OR REPLACE VIEW {VIEW} AS\n{select}"


def dataset() -> dict[str, Any]:
    """CreateDataSet parameters (less the account id), with cid-cmd's data source placeholders."""
    return {
        "DataSetId": DATASET_ID,
        "Name": VIEW,
        "PhysicalTableMap": {
            "bedrock-spend": {
                "RelationalTable": {
                    "DataSourceArn": "${athena_datasource_arn}",
                    "Schema": "${athena_database_name}",
                    "Name": VIEW,
                    "InputColumns": [{"Name": name, "Type": kind} for name, kind in COLUMNS.items()],
                }
            }
        },
        "LogicalTableMap": {"bedrock-spend": {"Alias": VIEW, "Source": {"PhysicalTableId": "bedrock-spend"}}},
        "ImportMode": "SPICE",
    }


def _column(name: str) -> dict[str, str]:
    if name not in COLUMNS:
        raise KeyError(f"the view has no column {name!r}")
    return {"DataSetIdentifier": VIEW, "ColumnName": name}


def _dimension(field_id: str, name: str) -> dict[str, Any]:
    if COLUMNS[name] == "DATETIME":
        return {
            "DateDimensionField": {"FieldId": field_id, "Column": _column(name), "DateGranularity": "DAY"}
        }
    return {"CategoricalDimensionField": {"FieldId": field_id, "Column": _column(name)}}


def _sum(field_id: str, name: str = "cost_usd") -> dict[str, Any]:
    field: dict[str, Any] = {
        "FieldId": field_id,
        "Column": _column(name),
        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"},
    }
    if name == "cost_usd":
        currency = {"Symbol": "USD", "DecimalPlacesConfiguration": {"DecimalPlaces": 2}}
        field["FormatConfiguration"] = {
            "FormatConfiguration": {"CurrencyDisplayFormatConfiguration": currency}
        }
    return {"NumericalMeasureField": field}


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _visuals() -> list[dict[str, Any]]:
    return [
        {
            "KPIVisual": {
                "VisualId": "total-spend",
                "Title": _title("Bedrock spend"),
                "ChartConfiguration": {"FieldWells": {"Values": [_sum("total-spend-cost")]}},
            }
        },
        {
            "BarChartVisual": {
                "VisualId": "spend-by-tenant-and-model",
                "Title": _title("Spend by tenant and model"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "BarChartAggregatedFieldWells": {
                            "Category": [_dimension("tenant-model-tenant", "tenant")],
                            "Values": [_sum("tenant-model-cost")],
                            "Colors": [_dimension("tenant-model-model", "model")],
                        }
                    },
                    "Orientation": "HORIZONTAL",
                    "BarsArrangement": "STACKED",
                    "SortConfiguration": {
                        "CategorySort": [{"FieldSort": {"FieldId": "tenant-model-cost", "Direction": "DESC"}}]
                    },
                },
            }
        },
        {
            "LineChartVisual": {
                "VisualId": "daily-spend-by-tenant",
                "Title": _title("Daily spend by tenant"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "LineChartAggregatedFieldWells": {
                            "Category": [_dimension("daily-day", "usage_date")],
                            "Values": [_sum("daily-cost")],
                            "Colors": [_dimension("daily-tenant", "tenant")],
                        }
                    }
                },
            }
        },
        {
            "PieChartVisual": {
                "VisualId": "spend-by-cost-center",
                "Title": _title("Spend by cost center"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "PieChartAggregatedFieldWells": {
                            "Category": [_dimension("cost-center-cost-center", "cost_center")],
                            "Values": [_sum("cost-center-cost")],
                        }
                    }
                },
            }
        },
        {
            "TableVisual": {
                "VisualId": "spend-by-principal",
                "Title": _title("Spend by tenant, user, IAM principal and model"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "TableAggregatedFieldWells": {
                            "GroupBy": [
                                _dimension("principal-tenant", "tenant"),
                                _dimension("principal-user", "user_name"),
                                _dimension("principal-principal", "principal"),
                                _dimension("principal-model", "model"),
                            ],
                            "Values": [_sum("principal-cost"), _sum("principal-tokens", "tokens")],
                        }
                    },
                    "SortConfiguration": {
                        "RowSort": [{"FieldSort": {"FieldId": "principal-cost", "Direction": "DESC"}}]
                    },
                },
            }
        },
    ]


# Grid positions (36 columns wide): visual id -> (column span, row span)
_LAYOUT = {
    "total-spend": (12, 6),
    "spend-by-cost-center": (24, 6),
    "spend-by-tenant-and-model": (18, 10),
    "daily-spend-by-tenant": (18, 10),
    "spend-by-principal": (36, 12),
}


def definition() -> dict[str, Any]:
    """The dashboard's QuickSight definition (CreateDashboard `Definition`). cid-cmd replaces the
    dataset ARN with the dataset it created for the identifier."""
    visuals = _visuals()
    return {
        "DataSetIdentifierDeclarations": [
            {
                "Identifier": VIEW,
                "DataSetArn": f"arn:aws:quicksight:us-east-1:111111111111:dataset/{DATASET_ID}",
            }
        ],
        "Sheets": [
            {
                "SheetId": "bedrock-spend",
                "Name": "Bedrock spend",
                "Visuals": visuals,
                "Layouts": [
                    {
                        "Configuration": {
                            "GridLayout": {
                                "Elements": [
                                    {
                                        "ElementId": visual_id,
                                        "ElementType": "VISUAL",
                                        "ColumnSpan": columns,
                                        "RowSpan": rows,
                                    }
                                    for visual_id, (columns, rows) in _LAYOUT.items()
                                ]
                            }
                        }
                    }
                ],
            }
        ],
    }


def resources(directory: TenantDirectory) -> dict[str, Any]:
    """The cid-cmd resources document (the shape of cid's own resources.yaml) for the dashboard."""
    return {
        "dashboards": {
            "Cost Sentry Bedrock": {
                "name": DASHBOARD_NAME,
                "dashboardId": DASHBOARD_ID,
                "category": "Custom",
                "dependsOn": {"datasets": [VIEW]},
                "data": definition(),
            }
        },
        "datasets": {
            VIEW: {"data": dataset(), "dependsOn": {"views": [VIEW]}, "schedules": ["default"]},
        },
        "views": {VIEW: {"data": view_sql(directory), "dependsOn": {"cur2": CUR_COLUMNS}}},
    }
