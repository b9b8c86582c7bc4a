{#- The category tree (up to three levels) flattened: each category with its top-level ancestor. -#}
with

categories as (

    select
        category_id,
        parent_category_id,
        category_name
    from {{ ref('stg_catalog__categories') }}

),

final as (

    select
        categories.category_id,
        categories.category_name,
        parents.category_name as parent_category_name,
        coalesce(grandparents.category_id, parents.category_id, categories.category_id) as top_category_id,
        coalesce(grandparents.category_name, parents.category_name, categories.category_name)
            as top_category_name,
        case
            when grandparents.category_id is not null then 3
            when parents.category_id is not null then 2
            else 1
        end as category_level
    from categories
    left join categories as parents
        on categories.parent_category_id = parents.category_id
    left join categories as grandparents
        on parents.parent_category_id = grandparents.category_id

)

select * from final
