"""Credit and receivables: aging, DSO, credit grades, watch lists and finance's monthly table."""

import plotly.graph_objects as go
import streamlit as st
from cwdash import exports, formatting, queries, ui
from cwdash.i18n import t

opened, filters = ui.start("credit")
if opened is None:
    st.stop()

# ---- aging and DSO by month (monthly marts, follow the as-of month) ---------------------------
if ui.require(opened, queries.RECEIVABLES_MONTHLY) and ui.require_month(filters):
    book = queries.receivables_book(
        opened, filters, queries.month_end_shift(filters.month_end, -23), filters.month_end
    )
    if book.empty:
        ui.empty("empty.no_receivables")
    else:
        months = ui.month_labels(book)
        figure = ui.aging_bars(book, months)
        ui.plot(
            figure,
            t("credit.aging_title"),
            x_title=t("unit.month"),
            monthly=True,
            y_title=t("unit.money_axis", currency=formatting.CURRENCY_CODE),
            money_axis="y",
            height=420,
        )

        figure = go.Figure()
        for column, dash in (
            ("dso_simple", None),
            ("dso_countback", "dash"),
            ("best_possible_dso", "dot"),
        ):
            if book[column].notna().any():
                figure.add_trace(
                    go.Scatter(
                        x=months,
                        y=book[column],
                        name=t(f"col.{column}"),
                        mode="lines+markers",
                        line={"dash": dash},
                    )
                )
        ui.plot(
            figure,
            t("credit.dso_title"),
            x_title=t("unit.month"),
            monthly=True,
            y_title=t("unit.days_axis"),
        )
        notes = [t("credit.dso_help")]
        if filters.has_dimensions:
            notes.append(t("credit.dso_filtered"))
        st.caption(" ".join(notes))

# ---- credit grades and the over-limit list (as of the warehouse date) -----------------------
st.subheader(t("credit.grades"))
ui.as_of_note(opened)
if ui.require(opened, queries.CREDIT):
    grades = queries.grade_distribution(opened, filters)
    if grades.empty:
        ui.empty("empty.no_customers")
    else:
        left, right = st.columns([3, 2])
        with left:
            figure = go.Figure()
            figure.add_trace(
                go.Bar(
                    x=grades["credit_grade"],
                    y=grades["customers"],
                    name=t("col.customers"),
                    marker_color="#1565c0",
                    texttemplate="%{y:,d}",
                )
            )
            figure.add_trace(
                go.Bar(
                    x=grades["credit_grade"],
                    y=grades["over_limit_customers"],
                    name=t("col.over_limit_customers"),
                    marker_color=ui.BAD,
                    texttemplate="%{y:,d}",
                )
            )
            figure.update_layout(barmode="group")
            ui.plot(
                figure,
                t("credit.grades_title"),
                x_title=t("col.credit_grade"),
                y_title=t("unit.customers"),
            )
        with right:
            ui.table(grades, key="credit_grades")
            st.caption(t("credit.grades_help"))
    st.markdown(f"**{t('credit.over_limit')}**")
    ui.paged_table(
        opened,
        queries.over_limit_customers(filters),
        key="over_limit",
        empty_key="empty.no_over_limit",
    )

# ---- open items and the limitation watch list ---------------------------------------------
if ui.require(opened, queries.OPEN_ITEMS):
    st.subheader(t("credit.limitation"))
    st.caption(t("credit.limitation_help"))
    ui.paged_table(
        opened,
        queries.open_items(filters, limitation_only=True),
        key="limitation",
        empty_key="empty.no_limitation",
    )
    st.subheader(t("credit.open_items"))
    ui.paged_table(
        opened,
        queries.open_items(filters, limitation_only=False),
        key="open_items",
        empty_key="empty.no_open_items",
    )

# ---- the month's receivables, with downloads ------------------------------------------------
st.subheader(t("credit.month_table"))
if ui.require(opened, queries.RECEIVABLES_MONTHLY) and ui.require_month(filters):
    month_end = filters.month_end
    st.caption(t("credit.month_table_help", month=formatting.month_label(month_end)))
    rows = ui.paged_table(
        opened,
        queries.month_receivables(filters, month_end),
        key="month_receivables",
        empty_key="empty.no_receivables_month",
    )
    if rows:
        stem = exports.file_stem(month_end)
        too_big = rows > exports.MAX_ROWS
        csv_column, excel_column, _ = st.columns([1, 1, 3])
        csv_column.download_button(
            t("credit.download_csv"),
            data=lambda: exports.receivables_csv(opened, filters, month_end),
            file_name=f"{stem}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            key="download_csv",
            disabled=too_big,
        )
        excel_column.download_button(
            t("credit.download_excel"),
            data=lambda: exports.receivables_xlsx(opened, filters, month_end),
            file_name=f"{stem}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            on_click="ignore",
            icon=":material/download:",
            key="download_excel",
            disabled=too_big,
        )
        if too_big:
            st.caption(
                t(
                    "credit.download_too_big",
                    rows=formatting.count(exports.MAX_ROWS),
                    command=f"customer-warehouse export receivables --month {month_end:%Y-%m}",
                )
            )
