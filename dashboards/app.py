"""Customer Warehouse dashboard: the entry point (`streamlit run dashboards/app.py`).

It sets up the page, the language switch and the global filters in the sidebar, then runs the
page the user picked. The pages live in views/; shared code in cwdash/.
"""

import streamlit as st
from cwdash import filters, i18n, warehouse

# url_path stays the same in both languages, so links and bookmarks survive the switch. The first
# page is the default one, served at "/".
PAGES = (
    ("overview", "views/overview.py", ":material/dashboard:"),
    ("profitability", "views/profitability.py", ":material/payments:"),
    ("abc", "views/abc.py", ":material/leaderboard:"),
    ("credit", "views/credit.py", ":material/account_balance:"),
    ("satisfaction", "views/satisfaction.py", ":material/sentiment_satisfied:"),
    ("customer", "views/customer.py", ":material/person_search:"),
    ("health", "views/health.py", ":material/monitor_heart:"),
)

st.set_page_config(page_title="Customer Warehouse", page_icon=":material/groups:", layout="wide")
i18n.language_switch()
navigation = st.navigation(
    [
        st.Page(path, title=i18n.t(f"nav.{name}"), icon=icon, url_path=name)
        for name, path, icon in PAGES
    ]
)
filters.sidebar(warehouse.current())
navigation.run()
