"""Files in and out: bulk imports of reports and histories, the historical-case import, and exports of cases."""
