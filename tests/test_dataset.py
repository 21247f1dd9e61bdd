"""Reading and validating salary CSVs."""

import pytest

from salary.dataset import DataValidationError, bundled_data_path, read_salary_csv, resolve_data_uri


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rows(count, start=1.0):
    return "".join(f"{start + i},{40000 + 1000 * i}\n" for i in range(count))


def test_bundled_data_is_valid_and_realistic():
    data = read_salary_csv(str(bundled_data_path()))
    assert data.rows >= 100
    assert 0 <= data.years.min() and data.years.max() <= 40
    assert (data.salary > 0).all()
    assert len(data.sha256) == 64


def test_empty_uri_means_the_bundled_csv():
    assert resolve_data_uri("") == str(bundled_data_path())
    assert resolve_data_uri("/x.csv") == "/x.csv"


def test_reads_values_exactly_and_ignores_blank_lines_and_column_order(tmp_path):
    path = write(tmp_path, "Salary,YearsExperience\n" + "".join(f"{50000 + i},{i}.5\n\n" for i in range(10)))
    data = read_salary_csv(path)
    assert data.rows == 10
    assert data.years.tolist() == [i + 0.5 for i in range(10)]
    assert data.salary.tolist() == [50000.0 + i for i in range(10)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "file is empty, expected header YearsExperience,Salary"),
        ("Years,Salary\n" + rows(10), "line 1: header 'Years,Salary' lacks column(s) YearsExperience"),
        ("YearsExperience,Salary\n" + rows(3) + "abc,50000\n" + rows(6), "line 5, column YearsExperience: 'abc' is not a number"),
        ("YearsExperience,Salary\n" + rows(10) + "2.0,nan\n", "line 12, column Salary: 'nan' is not finite"),
        ("YearsExperience,Salary\n" + rows(10) + "inf,5\n", "line 12, column YearsExperience: 'inf' is not finite"),
        ("YearsExperience,Salary\n" + rows(10) + "61,50000\n", "line 12, column YearsExperience: 61 is outside [0, 60]"),
        ("YearsExperience,Salary\n" + rows(10) + "-1,50000\n", "line 12, column YearsExperience: -1 is outside [0, 60]"),
        ("YearsExperience,Salary\n" + rows(10) + "3,0\n", "line 12, column Salary: 0 is not positive"),
        ("YearsExperience,Salary\n" + rows(10) + "3\n", "line 12: expected 2 fields, found 1"),
        ("YearsExperience,Salary\n" + rows(9), "9 data rows, at least 10 are needed"),
    ],
)
def test_bad_data_names_file_line_and_column(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError) as caught:
        read_salary_csv(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_missing_file_and_directory_and_binary(tmp_path):
    with pytest.raises(DataValidationError, match="nope.csv: file not found"):
        read_salary_csv(str(tmp_path / "nope.csv"))
    with pytest.raises(DataValidationError, match="is a directory"):
        read_salary_csv(str(tmp_path))
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataValidationError, match="not UTF-8 text"):
        read_salary_csv(str(binary))


def test_shipped_csv_is_what_the_seeded_script_makes(tmp_path):
    from salary.data.make_salary_csv import main

    output = tmp_path / "regenerated.csv"
    main(["--output", str(output)])
    assert output.read_bytes() == bundled_data_path().read_bytes()
