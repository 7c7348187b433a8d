//! Docker's tables: columns padded to the widest cell plus three spaces (Go's tabwriter with
//! minimum width 10 and padding 3), the last column unpadded (and an empty last cell leaves
//! the padding before it in place, as the tabwriter does).

pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            s.push_str(cell);
            if i + 1 < cols {
                let pad = (widths[i] + 3).max(10) - cell.chars().count();
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        // Not trimmed: a padded cell before an empty last one keeps its padding, as Go's
        // tabwriter leaves it (`--format 'table {{.Name}}\t{{.Label "x"}}'`).
        out.push_str(&s);
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(|s| s.as_str()).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_like_docker() {
        let t = render(
            &["REPOSITORY", "TAG", "IMAGE ID"],
            &[vec!["bb".into(), "latest".into(), "26ef77768ffa".into()]],
        );
        insta::assert_snapshot!(t);
    }
}
